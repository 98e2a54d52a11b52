// Not gperftools: a stand-in for its heap-profiler.h, found first on the include path, so that
// ../../mini-envoy/main.cc compiles unchanged against Google tcmalloc. Its three calls are
// implemented in ../../profiler.cc with what Envoy's source/common/profiler/profiler.cc and its
// admin handlers do when Envoy is built with tcmalloc (/heap_dump, the peak heap, /allocprofiler).
#pragma once

extern "C" {
void HeapProfilerStart(const char* prefix);
void HeapProfilerDump(const char* reason);
void HeapProfilerStop();
}
