// The ledger behind the ground truth: gperftools malloc hooks charging each allocation made while
// a marker function is on the stack to that marker's path. See ground_truth.h.
//
// The hooks run inside tcmalloc, so nothing here may allocate: the live-allocation table is a
// fixed array (open addressing, linear probing, backward-shift deletion) and the snapshots are
// fixed arrays too.
#include "ground_truth.h"

#include <gperftools/malloc_hook.h>

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
  int64_t alloc_objects;
  int64_t alloc_bytes;

  void add(uint64_t size) {
    inuse_objects++;
    inuse_bytes += static_cast<int64_t>(size);
    alloc_objects++;
    alloc_bytes += static_cast<int64_t>(size);
  }
  void remove(uint64_t size) {
    inuse_objects--;
    inuse_bytes -= static_cast<int64_t>(size);
  }
};

constexpr int kMaxMasks = 256;
constexpr int kMaxDumps = 16;
constexpr int kTableBits = 18;
constexpr size_t kTableSize = size_t{1} << kTableBits;

struct Entry {
  uintptr_t ptr; // 0: empty
  uint64_t size;
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

// Snapshots, one per dump.
struct Snapshot {
  char file[128];
  char reason[64];
  Counters paths[kNumPaths];
  Counters masks[kMaxMasks];
  int num_masks;
};
Snapshot g_snapshots[kMaxDumps];
int g_num_snapshots = 0;

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

void charge(uint32_t mask, uint64_t size, bool alloc) {
  for (int bit = 0; bit < kNumPaths; bit++) {
    if (mask & (1u << bit)) {
      alloc ? g_paths[bit].add(size) : g_paths[bit].remove(size);
    }
  }
  if (Counters* c = maskCounters(mask)) {
    alloc ? c->add(size) : c->remove(size);
  }
}

void onNew(const void* ptr, size_t size) {
  if (g_active_mask == 0 || ptr == nullptr) {
    return;
  }
  if (g_live * 2 >= kTableSize) {
    g_overflow = true;
    return;
  }
  const uintptr_t p = reinterpret_cast<uintptr_t>(ptr);
  size_t i = slotOf(p);
  while (g_table[i].ptr != 0) {
    i = (i + 1) & (kTableSize - 1);
  }
  g_table[i] = Entry{p, size, g_active_mask};
  g_live++;
  charge(g_active_mask, size, true);
}

void onDelete(const void* ptr) {
  if (ptr == nullptr || g_live == 0) {
    return;
  }
  const uintptr_t p = reinterpret_cast<uintptr_t>(ptr);
  size_t i = slotOf(p);
  while (g_table[i].ptr != p) {
    if (g_table[i].ptr == 0) {
      return; // not a tracked allocation
    }
    i = (i + 1) & (kTableSize - 1);
  }
  charge(g_table[i].mask, g_table[i].size, false);
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
    // Move entry j into the hole unless its home lies cyclically in (hole, j].
    const bool home_in_range = (hole <= j) ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!home_in_range) {
      g_table[hole] = g_table[j];
      hole = j;
    }
  }
  g_table[hole] = Entry{0, 0, 0};
}

void printCounters(FILE* out, const Counters& c) {
  fprintf(out,
          "{\"inuse_objects\": %" PRId64 ", \"inuse_bytes\": %" PRId64 ", \"alloc_objects\": %" PRId64
          ", \"alloc_bytes\": %" PRId64 "}",
          c.inuse_objects, c.inuse_bytes, c.alloc_objects, c.alloc_bytes);
}

} // namespace

ScopedPath::ScopedPath(Path path) : saved_mask_(g_active_mask) {
  g_active_mask |= 1u << static_cast<uint32_t>(path);
}

ScopedPath::~ScopedPath() { g_active_mask = saved_mask_; }

void startLedger() {
  MallocHook::AddNewHook(&onNew);
  MallocHook::AddDeleteHook(&onDelete);
}

void snapshot(const char* file, const char* reason) {
  if (g_num_snapshots == kMaxDumps) {
    g_overflow = true;
    return;
  }
  Snapshot& s = g_snapshots[g_num_snapshots++];
  snprintf(s.file, sizeof(s.file), "%s", file);
  snprintf(s.reason, sizeof(s.reason), "%s", reason);
  memcpy(s.paths, g_paths, sizeof(g_paths));
  memcpy(s.masks, g_masks, sizeof(g_masks));
  s.num_masks = g_num_masks;
}

void printGroundTruth(FILE* out, const char* argv0) {
  if (g_overflow) {
    fprintf(stderr, "mini-envoy: ground-truth ledger overflowed; results are not exact\n");
    exit(1);
  }
  fprintf(out, "{\n");
  fprintf(out, "  \"program\": \"%s\",\n", argv0);
  fprintf(out,
          "  \"rule\": \"a sample belongs to a path when any frame of its stack (physical or "
          "inline), named as pprof names it (demangled, no parameters or template arguments), "
          "equals the path's marker; paths overlap; marker_sets partitions the tracked "
          "allocations by the exact set of markers on their stack; allocations outside every "
          "marker are not tracked\",\n");
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
    fprintf(out, "      \"paths\": {\n");
    for (int p = 0; p < kNumPaths; p++) {
      fprintf(out, "        \"%s\": ", kPaths[p].key);
      printCounters(out, s.paths[p]);
      fprintf(out, "%s\n", p + 1 < kNumPaths ? "," : "");
    }
    fprintf(out, "      },\n      \"marker_sets\": [\n");
    for (int m = 0; m < s.num_masks; m++) {
      fprintf(out, "        {\"paths\": [");
      bool first = true;
      for (int p = 0; p < kNumPaths; p++) {
        if (g_mask_ids[m] & (1u << p)) {
          fprintf(out, "%s\"%s\"", first ? "" : ", ", kPaths[p].key);
          first = false;
        }
      }
      fprintf(out, "], \"counts\": ");
      printCounters(out, s.masks[m]);
      fprintf(out, "}%s\n", m + 1 < s.num_masks ? "," : "");
    }
    fprintf(out, "      ]\n    }%s\n", d + 1 < g_num_snapshots ? "," : "");
  }
  fprintf(out, "  ]\n}\n");
}

} // namespace mini_envoy
