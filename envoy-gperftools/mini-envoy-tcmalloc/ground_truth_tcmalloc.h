// The tcmalloc ledger's additions to ../mini-envoy/ground_truth.h (whose ScopedPath, startLedger,
// snapshot and printGroundTruth ground_truth_tcmalloc.cc implements with Google tcmalloc's
// tcmalloc::MallocHook new/delete hooks instead of gperftools' MallocHook).
#pragma once

#include <cstddef>
#include <cstdint>

namespace mini_envoy {

// Called by profiler.cc for the dump that main.cc is about to snapshot(): a further profile written
// at the same moment (`kind` is "peak_heap"), so that the ledger files it under that dump.
void noteProfile(const char* kind, const char* file);
// The allocation profile's window: its start and its stop (the file written at the stop).
void noteAllocationProfileStart();
void noteAllocationProfileStop(const char* file);
// The largest number of bytes (tcmalloc's allocated sizes) live at once in the whole process, as
// the hooks saw it, tracked or not.
uint64_t maxLiveAllocatedBytes();
// The sampling interval the program set, for the JSON.
void noteSamplingInterval(int64_t interval);

} // namespace mini_envoy
