// Ground truth for mini-envoy's heap profiles.
//
// Every allocation path that the ground truth reports has a *marker*: one function, compiled as a
// real (never inlined) frame, that opens a `ScopedPath` on its first line. While that function is
// on the stack its path bit is set; gperftools' malloc hooks (the same hooks the heap profiler
// uses) then charge each allocation to every path whose bit is set, and charge each free back to
// the paths its allocation was charged to. So, for any dump:
//
//   ground truth of path P  ==  sum over the dump's samples whose stack, as pprof names it
//                               (physical and inline frames), contains P's marker function
//
// build.sh checks exactly that equation against `pprof -raw` (verify.py) for every path, dump and
// sample type. Paths may overlap (a `Buffer::Slice::newStorage` allocation made for
// `ExternalProcessing::Filter::decodeData` counts for both); `marker_sets` in the JSON partitions
// the tracked allocations by the exact set of markers on their stack.
//
// Allocations made outside every marker (C++ runtime, config objects, connections created at
// startup) are in the dumps but not in the ground truth.
#pragma once

#include <cstdint>
#include <cstdio>

namespace mini_envoy {

// X(enum id, JSON key, marker function as pprof names it, what the path is)
#define MINI_ENVOY_PATHS(X)                                                                        \
  X(ExtProcDecodeHeaders, "ext_proc_decode_headers",                                               \
    "Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::decodeHeaders",                   \
    "ext_proc opens its gRPC stream and sends the request headers")                                \
  X(ExtProcDecodeData, "ext_proc_decode_data",                                                     \
    "Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::decodeData",                      \
    "ext_proc FULL_DUPLEX_STREAMED, request path: body chunks serialized into gRPC frames")        \
  X(ExtProcEncodeData, "ext_proc_encode_data",                                                     \
    "Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::encodeData",                      \
    "ext_proc FULL_DUPLEX_STREAMED, response path: body chunks serialized into gRPC frames")       \
  X(ExtProcSendBodyChunk, "ext_proc_send_body_chunk",                                              \
    "Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::sendBodyChunk",                   \
    "ext_proc sending one body chunk (both directions)")                                           \
  X(ExtProcOnReceiveMessage, "ext_proc_on_receive_message",                                        \
    "Envoy::Extensions::HttpFilters::ExternalProcessing::Filter::onReceiveMessage",                \
    "ext_proc applying a streamed body response: the mutated chunk, held for the upstream")        \
  X(GrpcSerializeMessage, "grpc_serialize_message", "Envoy::Grpc::Common::serializeMessage",       \
    "gRPC message serialization into a Buffer::OwnedImpl")                                         \
  X(GrpcPrependFrameHeader, "grpc_prepend_frame_header",                                           \
    "Envoy::Grpc::Common::prependGrpcFrameHeader",                                                 \
    "the 5-byte gRPC frame header, which gets a slice of its own")                                 \
  X(BufferSliceNewStorage, "buffer_slice_new_storage", "Envoy::Buffer::Slice::newStorage",         \
    "every buffer slice's storage")                                                                \
  X(BufferSliceDequeGrowRing, "buffer_slice_deque_grow_ring", "Envoy::Buffer::SliceDeque::growRing", \
    "a buffer's slice ring outgrowing its 8 inline slices")                                        \
  X(SocketRead, "socket_read", "Envoy::Network::IoSocketHandleImpl::read",                         \
    "bytes read from sockets (downstream, upstream and the ext_proc gRPC connection)")             \
  X(Http2OnBeginHeaders, "http2_on_begin_headers",                                                 \
    "Envoy::Http::Http2::ServerConnectionImpl::onBeginHeaders",                                    \
    "HTTP/2 codec: new server stream, its request headers")                                        \
  X(Http2OnData, "http2_on_data", "Envoy::Http::Http2::ConnectionImpl::onData",                    \
    "HTTP/2 codec: DATA frame payload copied into the stream's receive buffer")                    \
  X(Http1OnMessageBegin, "http1_on_message_begin",                                                 \
    "Envoy::Http::Http1::ServerConnectionImpl::onMessageBeginImpl",                                \
    "HTTP/1 codec: new request, its header map")                                                   \
  X(HeaderMapAddCopy, "header_map_add_copy", "Envoy::Http::HeaderMapImpl::addCopy",                \
    "header entries (codecs and router)")                                                          \
  X(HcmNewStream, "hcm_new_stream", "Envoy::Http::ConnectionManagerImpl::newStream",               \
    "HTTP connection manager ActiveStream")                                                        \
  X(FilterChain, "filter_chain", "Envoy::Http::FilterManager::createFilterChain",                  \
    "per-stream filter objects (Lua, WASM context, ext_proc, router)")                             \
  X(RouterDecodeHeaders, "router_decode_headers", "Envoy::Router::Filter::decodeHeaders",          \
    "router: UpstreamRequest and the upstream copy of the headers")                                \
  X(LuaThreadLocal, "lua_thread_local",                                                            \
    "Envoy::Extensions::Filters::Common::Lua::ThreadLocalState::LuaThreadLocal::LuaThreadLocal",   \
    "one lua_State per worker, script loaded (inside liblua5.1)")                                  \
  X(LuaDecodeHeaders, "lua_decode_headers",                                                        \
    "Envoy::Extensions::HttpFilters::Lua::Filter::decodeHeaders",                                  \
    "Lua filter: coroutine per stream, envoy_on_request run (inside liblua5.1)")                   \
  X(LuaOnDestroy, "lua_on_destroy", "Envoy::Extensions::HttpFilters::Lua::Filter::onDestroy",      \
    "Lua filter teardown: unref and a full GC (may allocate while collecting)")                    \
  X(WasmCreate, "wasm_create", "Envoy::Extensions::Common::Wasm::createWasm",                      \
    "WASM VM creation (proxy_wasm:: and v8::internal:: in libmini_envoy_ext.so)")                  \
  X(WasmDecodeHeaders, "wasm_decode_headers",                                                      \
    "Envoy::Extensions::Common::Wasm::Context::decodeHeaders",                                     \
    "WASM plugin onRequestHeaders (proxy_wasm:: and v8::internal:: in libmini_envoy_ext.so)")      \
  X(StatsCounter, "stats_counter",                                                                 \
    "Envoy::Stats::ThreadLocalStoreImpl::ScopeImpl::counterFromStatNameWithTags",                  \
    "counters: CounterImpl, stat name storage, central cache entry")                               \
  X(StatsGauge, "stats_gauge",                                                                     \
    "Envoy::Stats::ThreadLocalStoreImpl::ScopeImpl::gaugeFromStatNameWithTags",                    \
    "gauges: GaugeImpl, stat name storage, central cache entry")

enum class Path : uint32_t {
#define MINI_ENVOY_PATH_ENUM(id, key, marker, description) id,
  MINI_ENVOY_PATHS(MINI_ENVOY_PATH_ENUM)
#undef MINI_ENVOY_PATH_ENUM
      Count
};

// Marks the current function as being on the stack of every allocation it (transitively) makes.
// Construct it on the first line of the marker function; never inline that function.
class ScopedPath {
public:
  explicit ScopedPath(Path path);
  ~ScopedPath();
  ScopedPath(const ScopedPath&) = delete;
  ScopedPath& operator=(const ScopedPath&) = delete;

private:
  uint32_t saved_mask_;
};

// Installs the malloc hooks. Call right after HeapProfilerStart().
void startLedger();
// Records the ledger's state for a dump just written as `file` (basename) for `reason`.
void snapshot(const char* file, const char* reason);
// Prints the ground truth JSON.
void printGroundTruth(FILE* out, const char* argv0);

} // namespace mini_envoy
