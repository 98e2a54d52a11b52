// mini-envoy-tcmalloc's profiler: what Envoy does with Google tcmalloc, at the moments where
// ../mini-envoy/main.cc calls gperftools (it is compiled unchanged, with
// include/gperftools/heap-profiler.h in front of the real header).
//
// Envoy (source/common/profiler/profiler.cc, built with tcmalloc) serves
//   /heap_dump       TcmallocProfiler::tcmallocHeapProfile():
//                    Marshal(MallocExtension::SnapshotCurrent(ProfileType::kHeap))
//   /allocprofiler   TcmallocProfiler::startAllocationProfile() / stopAllocationProfile():
//                    MallocExtension::StartAllocationProfiling(), then Marshal(token.Stop())
// and the peak heap is the same snapshot with ProfileType::kPeakHeap (tcmallocPeakHeapProfile()
// here; that name is ours, modelled on tcmallocHeapProfile()). Each answer is a gzipped pprof
// protobuf written by tcmalloc::Marshal.
//
// HeapProfilerStart(prefix)    sets the sampling interval from MINI_ENVOY_TCMALLOC_SAMPLING_INTERVAL
//                              (unset: tcmalloc's default) and restarts the sampler with it.
// HeapProfilerDump(reason)     dump N writes PREFIX.000N.heap.pb.gz (kHeap); and
//                                "startup":     then starts the allocation profile;
//                                "peak":        then raises tcmalloc's peak (see raisePeak) and
//                                               writes PREFIX.000N.peakheap.pb.gz (kPeakHeap);
//                                "after-drain": first stops the allocation profile and writes
//                                               PREFIX.allocs.pb.gz (kAllocations).
// HeapProfilerStop()           nothing (Envoy's tcmalloc profiles need no stop).
#include <gperftools/heap-profiler.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ground_truth_tcmalloc.h"
#include "tcmalloc/malloc_extension.h"
#include "tcmalloc/profile_marshaler.h"

#define MINI_ENVOY_NOINLINE __attribute__((noinline, noclone))

namespace Envoy {
namespace Profiler {

class TcmallocProfiler {
public:
  static absl::StatusOr<std::string> tcmallocHeapProfile();
  static absl::StatusOr<std::string> tcmallocPeakHeapProfile();
  static absl::Status startAllocationProfile();
  static absl::StatusOr<std::string> stopAllocationProfile();
};

static tcmalloc::MallocExtension::AllocationProfilingToken* alloc_profiler = nullptr;

MINI_ENVOY_NOINLINE absl::StatusOr<std::string> TcmallocProfiler::tcmallocHeapProfile() {
  auto profile = tcmalloc::MallocExtension::SnapshotCurrent(tcmalloc::ProfileType::kHeap);
  return tcmalloc::Marshal(profile);
}

MINI_ENVOY_NOINLINE absl::StatusOr<std::string> TcmallocProfiler::tcmallocPeakHeapProfile() {
  auto profile = tcmalloc::MallocExtension::SnapshotCurrent(tcmalloc::ProfileType::kPeakHeap);
  return tcmalloc::Marshal(profile);
}

MINI_ENVOY_NOINLINE absl::Status TcmallocProfiler::startAllocationProfile() {
  if (alloc_profiler != nullptr) {
    return absl::Status(absl::StatusCode::kFailedPrecondition,
                        "Allocation profiler has already started");
  }
  alloc_profiler = new tcmalloc::MallocExtension::AllocationProfilingToken(
      tcmalloc::MallocExtension::StartAllocationProfiling());
  return absl::OkStatus();
}

MINI_ENVOY_NOINLINE absl::StatusOr<std::string> TcmallocProfiler::stopAllocationProfile() {
  if (!alloc_profiler) {
    return absl::Status(absl::StatusCode::kFailedPrecondition, "Allocation profiler is not started");
  }
  const auto profile = std::move(*alloc_profiler).Stop();
  auto result = tcmalloc::Marshal(profile);
  delete alloc_profiler;
  alloc_profiler = nullptr;
  return result;
}

} // namespace Profiler

namespace Server {

// The admin handlers, reduced to writing the response body to a file.
class TcmallocProfilingHandler {
public:
  static bool handlerHeapDump(const std::string& path);
  static bool handlerPeakHeapDump(const std::string& path);
  static bool handlerAllocationProfiler(bool enable, const std::string& path);
};

namespace {
bool writeResponse(const absl::StatusOr<std::string>& result, const std::string& path) {
  if (!result.ok()) {
    fprintf(stderr, "mini-envoy: no profile for %s\n", path.c_str());
    return false;
  }
  FILE* f = fopen(path.c_str(), "wb");
  if (f == nullptr) {
    fprintf(stderr, "mini-envoy: cannot write %s\n", path.c_str());
    return false;
  }
  const std::string& body = *result;
  const bool ok = fwrite(body.data(), 1, body.size(), f) == body.size();
  return fclose(f) == 0 && ok;
}
} // namespace

MINI_ENVOY_NOINLINE bool TcmallocProfilingHandler::handlerHeapDump(const std::string& path) {
  return writeResponse(Profiler::TcmallocProfiler::tcmallocHeapProfile(), path);
}

MINI_ENVOY_NOINLINE bool TcmallocProfilingHandler::handlerPeakHeapDump(const std::string& path) {
  return writeResponse(Profiler::TcmallocProfiler::tcmallocPeakHeapProfile(), path);
}

MINI_ENVOY_NOINLINE bool TcmallocProfilingHandler::handlerAllocationProfiler(bool enable,
                                                                             const std::string& path) {
  if (enable) {
    return Profiler::TcmallocProfiler::startAllocationProfile().ok();
  }
  return writeResponse(Profiler::TcmallocProfiler::stopAllocationProfile(), path);
}

} // namespace Server
} // namespace Envoy

namespace mini_envoy {
namespace {

std::string g_prefix;
int g_dumps = 0;
bool g_failed = false;

void require(bool ok) { g_failed |= !ok; }

std::string baseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// One large allocation and its free, outside every marker. It is always sampled, so the thread's
// sampler picks its next sampling point with the interval just set (not the one drawn at the first
// allocation of the process, under the default interval).
MINI_ENVOY_NOINLINE void restartSampler() {
  void* p = ::operator new(size_t{64} << 20);
  asm volatile("" : : "r"(p) : "memory");
  ::operator delete(p);
}

// tcmalloc saves its peak-heap sample when the sampled heap grows past 1.1 times the last peak it
// saved, so on its own the peak profile shows some earlier moment within 10% of the real peak.
// This block (4 times the most the process ever had live, at least 256 MiB, so more than 1.1 times
// restartSampler's 64 MiB too; always sampled; freed
// at once, outside every marker) makes that moment now: the peak profile then holds exactly the
// state of the "peak" dump, plus this one sample under mini_envoy::raisePeak.
MINI_ENVOY_NOINLINE void raisePeak() {
  size_t bytes = static_cast<size_t>(4 * maxLiveAllocatedBytes());
  bytes = bytes < (size_t{256} << 20) ? (size_t{256} << 20) : ((bytes >> 20) + 1) << 20;
  void* p = ::operator new(bytes);
  asm volatile("" : : "r"(p) : "memory");
  ::operator delete(p);
}

} // namespace
} // namespace mini_envoy

extern "C" void HeapProfilerStart(const char* prefix) {
  using tcmalloc::MallocExtension;
  mini_envoy::g_prefix = prefix;
  if (const char* v = getenv("MINI_ENVOY_TCMALLOC_SAMPLING_INTERVAL"); v != nullptr && *v != '\0') {
    MallocExtension::SetProfileSamplingInterval(strtoll(v, nullptr, 10));
  }
  mini_envoy::restartSampler();
  mini_envoy::noteSamplingInterval(MallocExtension::GetProfileSamplingInterval());
}

extern "C" void HeapProfilerDump(const char* reason) {
  using Envoy::Server::TcmallocProfilingHandler;
  using mini_envoy::require;
  const std::string r = reason;
  char number[16];
  snprintf(number, sizeof(number), ".%04d", ++mini_envoy::g_dumps);
  const std::string base = mini_envoy::g_prefix + number;
  if (r == "after-drain") {
    const std::string allocs = mini_envoy::g_prefix + ".allocs.pb.gz";
    require(TcmallocProfilingHandler::handlerAllocationProfiler(false, allocs));
    mini_envoy::noteAllocationProfileStop(mini_envoy::baseName(allocs).c_str());
  }
  require(TcmallocProfilingHandler::handlerHeapDump(base + ".heap.pb.gz"));
  if (r == "peak") {
    mini_envoy::raisePeak();
    const std::string peak = base + ".peakheap.pb.gz";
    require(TcmallocProfilingHandler::handlerPeakHeapDump(peak));
    mini_envoy::noteProfile("peak_heap", mini_envoy::baseName(peak).c_str());
  }
  if (r == "startup") {
    require(TcmallocProfilingHandler::handlerAllocationProfiler(true, ""));
    mini_envoy::noteAllocationProfileStart();
  }
  if (mini_envoy::g_failed) {
    fprintf(stderr, "mini-envoy: a profile could not be written\n");
    exit(1);
  }
}

extern "C" void HeapProfilerStop() {}
