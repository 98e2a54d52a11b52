// The ledger behind mini-envoy-tcmalloc's ground truth: ../mini-envoy/ground_truth.h's interface,
// driven by Google tcmalloc's new/delete hooks (tcmalloc::MallocHook, malloc_hook.h) where
// ../mini-envoy/ground_truth.cc uses gperftools' MallocHook. The rule is the same: each allocation
// made while a marker function is on the stack is charged to that marker's path, each free is
// charged back. tcmalloc's hooks report both sizes, so every counter comes twice: `*_bytes` are
// the REQUESTED sizes (what the program asked for: the `request` label of tcmalloc's samples, and
// what gperftools' ground truth counts), `*_allocated_bytes` are tcmalloc's allocated sizes (size
// class or whole pages: the `bytes` label, and what the `space` values add up).
//
// The hooks run inside tcmalloc, so nothing here may allocate: the live-allocation table and the
// snapshots are fixed arrays. With hooks installed every allocation takes tcmalloc's slow path
// (frames that drop_frames removes); what it samples and how does not change.
#include "ground_truth.h"
#include "ground_truth_tcmalloc.h"

#include "tcmalloc/malloc_hook.h"

#include <cinttypes>
#include <cstdlib>
#include <cstring>

namespace mini_envoy {
namespace {

constexpr int kNumPaths = static_cast<int>(Path::Count);
static_assert(kNumPaths <= 32, "path bits must fit the 32-bit mask");

struct PathInfo {
  const char* key;
  const char* marker;
  const char* description;
};

constexpr PathInfo kPaths[] = {
#define MINI_ENVOY_PATH_INFO(id, key, marker, description) {key, marker, description},
    MINI_ENVOY_PATHS(MINI_ENVOY_PATH_INFO)
#undef MINI_ENVOY_PATH_INFO
};

struct Counters {
  int64_t inuse_objects;
  int64_t inuse_bytes;
  int64_t inuse_allocated_bytes;
  int64_t alloc_objects;
  int64_t alloc_bytes;
  int64_t alloc_allocated_bytes;

  void add(uint64_t requested, uint64_t allocated) {
    inuse_objects++;
    inuse_bytes += static_cast<int64_t>(requested);
    inuse_allocated_bytes += static_cast<int64_t>(allocated);
    alloc_objects++;
    alloc_bytes += static_cast<int64_t>(requested);
    alloc_allocated_bytes += static_cast<int64_t>(allocated);
  }
  void remove(uint64_t requested, uint64_t allocated) {
    inuse_objects--;
    inuse_bytes -= static_cast<int64_t>(requested);
    inuse_allocated_bytes -= static_cast<int64_t>(allocated);
  }
};

constexpr int kMaxMasks = 256;
constexpr int kMaxDumps = 16;
constexpr int kMaxExtra = 8;
constexpr int kTableBits = 18;
constexpr size_t kTableSize = size_t{1} << kTableBits;

struct Entry {
  uintptr_t ptr; // 0: empty
  uint64_t requested;
  uint64_t allocated;
  uint32_t mask;
};

// Current state.
uint32_t g_active_mask = 0;
Counters g_paths[kNumPaths];
uint32_t g_mask_ids[kMaxMasks];
Counters g_masks[kMaxMasks];
int g_num_masks = 0;
Entry g_table[kTableSize];
size_t g_live = 0;
bool g_overflow = false;
int64_t g_process_live_allocated = 0;
int64_t g_process_max_live_allocated = 0;
int64_t g_sampling_interval = -1;

// Snapshots, one per dump.
struct Snapshot {
  char file[128];
  char reason[64];
  char extra_kind[kMaxExtra][32];
  char extra_file[kMaxExtra][128];
  int num_extra;
  Counters paths[kNumPaths];
  Counters masks[kMaxMasks];
  int num_masks;
};
Snapshot g_snapshots[kMaxDumps];
int g_num_snapshots = 0;
// Profiles noted for the next snapshot.
char g_pending_kind[kMaxExtra][32];
char g_pending_file[kMaxExtra][128];
int g_num_pending = 0;

// The allocation profile's window.
struct Window {
  bool started;
  bool stopped;
  char file[128];
  int after_snapshots; // snapshots taken when it started / stopped (the next one has its state)
  Counters paths[kNumPaths];
  Counters masks[kMaxMasks];
  int num_masks;
};
Window g_window_start;
Window g_window_stop;

size_t slotOf(uintptr_t ptr) {
  return static_cast<size_t>((static_cast<uint64_t>(ptr) * 0x9E3779B97F4A7C15ull) >>
                             (64 - kTableBits));
}

Counters* maskCounters(uint32_t mask) {
  for (int i = 0; i < g_num_masks; i++) {
    if (g_mask_ids[i] == mask) {
      return &g_masks[i];
    }
  }
  if (g_num_masks == kMaxMasks) {
    g_overflow = true;
    return nullptr;
  }
  g_mask_ids[g_num_masks] = mask;
  return &g_masks[g_num_masks++];
}

void charge(uint32_t mask, uint64_t requested, uint64_t allocated, bool alloc) {
  for (int bit = 0; bit < kNumPaths; bit++) {
    if (mask & (1u << bit)) {
      alloc ? g_paths[bit].add(requested, allocated) : g_paths[bit].remove(requested, allocated);
    }
  }
  if (Counters* c = maskCounters(mask)) {
    alloc ? c->add(requested, allocated) : c->remove(requested, allocated);
  }
}

void onNew(const tcmalloc::MallocHook::NewInfo& info) {
  if (info.ptr == nullptr) {
    return;
  }
  g_process_live_allocated += static_cast<int64_t>(info.allocated_size);
  if (g_process_live_allocated > g_process_max_live_allocated) {
    g_process_max_live_allocated = g_process_live_allocated;
  }
  if (g_active_mask == 0) {
    return;
  }
  if (g_live * 2 >= kTableSize) {
    g_overflow = true;
    return;
  }
  const uintptr_t p = reinterpret_cast<uintptr_t>(info.ptr);
  size_t i = slotOf(p);
  while (g_table[i].ptr != 0) {
    i = (i + 1) & (kTableSize - 1);
  }
  g_table[i] = Entry{p, info.requested_size, info.allocated_size, g_active_mask};
  g_live++;
  charge(g_active_mask, info.requested_size, info.allocated_size, true);
}

void onDelete(const tcmalloc::MallocHook::DeleteInfo& info) {
  if (info.ptr == nullptr) {
    return;
  }
  g_process_live_allocated -= static_cast<int64_t>(info.allocated_size);
  if (g_live == 0) {
    return;
  }
  const uintptr_t p = reinterpret_cast<uintptr_t>(info.ptr);
  size_t i = slotOf(p);
  while (g_table[i].ptr != p) {
    if (g_table[i].ptr == 0) {
      return; // not a tracked allocation
    }
    i = (i + 1) & (kTableSize - 1);
  }
  charge(g_table[i].mask, g_table[i].requested, g_table[i].allocated, false);
  g_live--;
  // Backward-shift deletion keeps every probe chain unbroken without tombstones.
  size_t hole = i;
  size_t j = i;
  for (;;) {
    j = (j + 1) & (kTableSize - 1);
    if (g_table[j].ptr == 0) {
      break;
    }
    const size_t home = slotOf(g_table[j].ptr);
    const bool home_in_range = (hole <= j) ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!home_in_range) {
      g_table[hole] = g_table[j];
      hole = j;
    }
  }
  g_table[hole] = Entry{0, 0, 0, 0};
}

void capture(Window& w) {
  memcpy(w.paths, g_paths, sizeof(g_paths));
  memcpy(w.masks, g_masks, sizeof(g_masks));
  w.num_masks = g_num_masks;
  w.after_snapshots = g_num_snapshots;
}

void printCounters(FILE* out, const Counters& c) {
  fprintf(out,
          "{\"inuse_objects\": %" PRId64 ", \"inuse_bytes\": %" PRId64
          ", \"inuse_allocated_bytes\": %" PRId64 ", \"alloc_objects\": %" PRId64
          ", \"alloc_bytes\": %" PRId64 ", \"alloc_allocated_bytes\": %" PRId64 "}",
          c.inuse_objects, c.inuse_bytes, c.inuse_allocated_bytes, c.alloc_objects, c.alloc_bytes,
          c.alloc_allocated_bytes);
}

void printAllocDelta(FILE* out, const Counters& to, const Counters* from) {
  const Counters zero{};
  const Counters& f = from ? *from : zero;
  fprintf(out,
          "{\"alloc_objects\": %" PRId64 ", \"alloc_bytes\": %" PRId64
          ", \"alloc_allocated_bytes\": %" PRId64 "}",
          to.alloc_objects - f.alloc_objects, to.alloc_bytes - f.alloc_bytes,
          to.alloc_allocated_bytes - f.alloc_allocated_bytes);
}

void printMaskPaths(FILE* out, uint32_t mask) {
  fprintf(out, "{\"paths\": [");
  bool first = true;
  for (int p = 0; p < kNumPaths; p++) {
    if (mask & (1u << p)) {
      fprintf(out, "%s\"%s\"", first ? "" : ", ", kPaths[p].key);
      first = false;
    }
  }
  fprintf(out, "], \"counts\": ");
}

} // namespace

ScopedPath::ScopedPath(Path path) : saved_mask_(g_active_mask) {
  g_active_mask |= 1u << static_cast<uint32_t>(path);
}

ScopedPath::~ScopedPath() { g_active_mask = saved_mask_; }

void startLedger() {
  if (!tcmalloc::MallocHook::AddNewHook(&onNew) || !tcmalloc::MallocHook::AddDeleteHook(&onDelete)) {
    fprintf(stderr, "mini-envoy: cannot install tcmalloc's malloc hooks\n");
    exit(1);
  }
}

void noteProfile(const char* kind, const char* file) {
  if (g_num_pending == kMaxExtra) {
    g_overflow = true;
    return;
  }
  snprintf(g_pending_kind[g_num_pending], sizeof(g_pending_kind[0]), "%s", kind);
  snprintf(g_pending_file[g_num_pending], sizeof(g_pending_file[0]), "%s", file);
  g_num_pending++;
}

void noteAllocationProfileStart() {
  capture(g_window_start);
  g_window_start.started = true;
}

void noteAllocationProfileStop(const char* file) {
  capture(g_window_stop);
  g_window_stop.stopped = true;
  snprintf(g_window_stop.file, sizeof(g_window_stop.file), "%s", file);
}

uint64_t maxLiveAllocatedBytes() {
  return g_process_max_live_allocated > 0 ? static_cast<uint64_t>(g_process_max_live_allocated) : 0;
}

void noteSamplingInterval(int64_t interval) { g_sampling_interval = interval; }

// `file` is the gperftools dump name main.cc computes (mini-envoy.0001.heap); the profile that
// profiler.cc wrote for it is that name plus ".pb.gz".
void snapshot(const char* file, const char* reason) {
  if (g_num_snapshots == kMaxDumps) {
    g_overflow = true;
    return;
  }
  Snapshot& s = g_snapshots[g_num_snapshots++];
  snprintf(s.file, sizeof(s.file), "%s.pb.gz", file);
  snprintf(s.reason, sizeof(s.reason), "%s", reason);
  memcpy(s.paths, g_paths, sizeof(g_paths));
  memcpy(s.masks, g_masks, sizeof(g_masks));
  s.num_masks = g_num_masks;
  s.num_extra = g_num_pending;
  for (int i = 0; i < g_num_pending; i++) {
    memcpy(s.extra_kind[i], g_pending_kind[i], sizeof(s.extra_kind[i]));
    memcpy(s.extra_file[i], g_pending_file[i], sizeof(s.extra_file[i]));
  }
  g_num_pending = 0;
}

void printGroundTruth(FILE* out, const char* argv0) {
  if (g_overflow) {
    fprintf(stderr, "mini-envoy: ground-truth ledger overflowed; results are not exact\n");
    exit(1);
  }
  fprintf(out, "{\n");
  fprintf(out, "  \"program\": \"%s\",\n", argv0);
  fprintf(out, "  \"allocator\": \"tcmalloc\",\n");
  fprintf(out, "  \"sampling_interval\": %" PRId64 ",\n", g_sampling_interval);
  fprintf(out,
          "  \"rule\": \"a sample belongs to a path when any frame of its stack (physical or "
          "inline), named as pprof names it (demangled, no parameters or template arguments), "
          "equals the path's marker; paths overlap; marker_sets partitions the tracked "
          "allocations by the exact set of markers on their stack; allocations outside every "
          "marker are not tracked. *_bytes are requested sizes (tcmalloc's request label), "
          "*_allocated_bytes tcmalloc's allocated sizes (its bytes label; space adds them up). "
          "A heap or peak_heap profile is the state of its dump (inuse_*); the allocation "
          "profile is the difference of alloc_* between its start and its stop\",\n");
  fprintf(out, "  \"paths\": {\n");
  for (int p = 0; p < kNumPaths; p++) {
    fprintf(out, "    \"%s\": {\"marker\": \"%s\", \"description\": \"%s\"}%s\n", kPaths[p].key,
            kPaths[p].marker, kPaths[p].description, p + 1 < kNumPaths ? "," : "");
  }
  fprintf(out, "  },\n");
  fprintf(out, "  \"dumps\": [\n");
  for (int d = 0; d < g_num_snapshots; d++) {
    const Snapshot& s = g_snapshots[d];
    fprintf(out, "    {\n      \"file\": \"%s\",\n      \"reason\": \"%s\",\n", s.file, s.reason);
    fprintf(out, "      \"profile\": \"heap\",\n      \"same_state\": {");
    for (int e = 0; e < s.num_extra; e++) {
      fprintf(out, "%s\"%s\": \"%s\"", e ? ", " : "", s.extra_kind[e], s.extra_file[e]);
    }
    fprintf(out, "},\n");
    fprintf(out, "      \"paths\": {\n");
    for (int p = 0; p < kNumPaths; p++) {
      fprintf(out, "        \"%s\": ", kPaths[p].key);
      printCounters(out, s.paths[p]);
      fprintf(out, "%s\n", p + 1 < kNumPaths ? "," : "");
    }
    fprintf(out, "      },\n      \"marker_sets\": [\n");
    for (int m = 0; m < s.num_masks; m++) {
      fprintf(out, "        ");
      printMaskPaths(out, g_mask_ids[m]);
      printCounters(out, s.masks[m]);
      fprintf(out, "}%s\n", m + 1 < s.num_masks ? "," : "");
    }
    fprintf(out, "      ]\n    }%s\n", d + 1 < g_num_snapshots ? "," : "");
  }
  fprintf(out, "  ]");
  if (g_window_start.started && g_window_stop.stopped) {
    const Window& a = g_window_start;
    const Window& b = g_window_stop;
    fprintf(out, ",\n  \"allocation_profile\": {\n    \"file\": \"%s\",\n", b.file);
    fprintf(out, "    \"profile\": \"allocations\",\n");
    // Both ends are noted inside a dump, before main.cc snapshots it: the window runs from the
    // state of that first dump to the state of that last one.
    fprintf(out, "    \"from_dump\": \"%s\",\n",
            a.after_snapshots < g_num_snapshots ? g_snapshots[a.after_snapshots].file : "");
    fprintf(out, "    \"to_dump\": \"%s\",\n",
            b.after_snapshots < g_num_snapshots ? g_snapshots[b.after_snapshots].file : "");
    fprintf(out, "    \"paths\": {\n");
    for (int p = 0; p < kNumPaths; p++) {
      fprintf(out, "      \"%s\": ", kPaths[p].key);
      printAllocDelta(out, b.paths[p], &a.paths[p]);
      fprintf(out, "%s\n", p + 1 < kNumPaths ? "," : "");
    }
    fprintf(out, "    },\n    \"marker_sets\": [\n");
    bool first = true;
    for (int m = 0; m < b.num_masks; m++) {
      const Counters* from = m < a.num_masks ? &a.masks[m] : nullptr;
      if (from && from->alloc_objects == b.masks[m].alloc_objects) {
        continue; // nothing allocated under this set in the window
      }
      fprintf(out, "%s      ", first ? "" : ",\n");
      first = false;
      printMaskPaths(out, g_mask_ids[m]);
      printAllocDelta(out, b.masks[m], from);
      fprintf(out, "}");
    }
    fprintf(out, "\n    ]\n  }");
  }
  fprintf(out, "\n}\n");
}

} // namespace mini_envoy
