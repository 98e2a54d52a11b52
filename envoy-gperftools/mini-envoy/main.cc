// mini-envoy's server and its load: ten clients streaming an MP4 upload through an ext_proc filter
// in FULL_DUPLEX_STREAMED mode while the ext_proc server falls behind (envoyproxy/envoy#39514),
// with a Lua filter and a WASM filter in the chain, then the server catching up.
//
// Usage: mini-envoy [PROFILE_PREFIX]     (default prefix: ./mini-envoy)
// Writes PROFILE_PREFIX.0001.heap ... .0004.heap and prints the ground truth JSON on stdout.
// Run it with HEAP_PROFILE_ALLOCATION_INTERVAL=0 HEAP_PROFILE_INUSE_INTERVAL=0 so that gperftools
// writes only the four explicit dumps (build.sh does).
//
// Dumps:
//   0001 startup      stats, two Lua states, the WASM VM; no streams yet
//   0002 mid-stream   10 streams open, 4 request chunks and 2 response chunks each
//   0003 peak         28 request and 18 response chunks each; the ext_proc server answered 4
//                     chunks of streams 0-4 and read nothing (its window is closed)
//   0004 after-drain  the server opened its window: streams 0-4 drained and reset (destroyed),
//                     streams 5-9 drained 200000 bytes each
#include <gperftools/heap-profiler.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "envoy.h"

namespace Envoy {

// ================================================================================ Profiler
namespace Profiler {
namespace Heap {

// source/common/profiler/profiler.cc: the admin endpoint's /heapprofiler?enable=y.
bool startProfiler(const std::string& output_path) {
  return HeapProfilerStart(output_path.c_str()), true;
}

// /heapprofiler?enable=n
bool stopProfiler() {
  HeapProfilerStop();
  return true;
}

} // namespace Heap
} // namespace Profiler

// ==================================================================================== Event
namespace Event {

class DispatcherImpl {
public:
  enum class RunType { Block, NonBlock };
  void post(Network::ConnectionImpl& connection, const Http::Wire& wire) {
    connection.post(wire);
    ready_.push_back(&connection);
  }
  ENVOY_NOINLINE void run(RunType type) {
    (void)type;
    for (Network::ConnectionImpl* connection : ready_) {
      connection->onFileEvent(0x1); // FileReadyType::Read
    }
    ready_.clear();
  }

private:
  std::vector<Network::ConnectionImpl*> ready_;
};

} // namespace Event

// =================================================================================== Server
namespace Server {

constexpr int kWorkers = 2;
constexpr int kStreams = 10;
constexpr int kHttp2Streams = 6; // clients 0-5 speak HTTP/2, 6-9 HTTP/1.1

// The Lua filter's script (inline_code in envoy.yaml).
constexpr const char* kLuaCode = R"lua(
function envoy_on_request(request_handle)
  local seen = {}
  for i = 1, 12 do
    seen[i] = string.format("x-mini-envoy-%02d:%s", i, string.rep("v", 8 * i))
  end
  request_handle.seen = seen
  request_handle.path_length = #request_handle[":path"]
end
)lua";

class InstanceImpl {
public:
  InstanceImpl() : stats_allocator_(symbol_table_), stats_store_(stats_allocator_) {}

  void initialize();
  void run() { dispatcher_.run(Event::DispatcherImpl::RunType::Block); }

  Stats::ThreadLocalStoreImpl& stats() { return stats_store_; }
  Extensions::Filters::Common::Lua::ThreadLocalState& lua() { return *lua_; }
  Event::DispatcherImpl& dispatcher() { return dispatcher_; }
  Network::ConnectionImpl& downstream(int i) { return *downstream_connections_[i]; }
  Network::ConnectionImpl& upstream(int i) { return *upstream_connections_[i]; }
  Network::ConnectionImpl& extProcConnection() { return *ext_proc_connection_; }

private:
  void initializeStats();

  Stats::SymbolTableImpl symbol_table_;
  Stats::AllocatorImpl stats_allocator_;
  Stats::ThreadLocalStoreImpl stats_store_;
  std::unique_ptr<Extensions::Filters::Common::Lua::ThreadLocalState> lua_;
  Event::DispatcherImpl dispatcher_;
  std::vector<Http::FilterFactoryCb> filter_factories_;
  // Cluster "ext_proc_server": one HTTP/2 connection carrying every ext_proc gRPC stream.
  std::unique_ptr<Http::CodecClient> ext_proc_client_;
  std::unique_ptr<Network::ConnectionImpl> ext_proc_connection_;
  // Cluster "backend": an HTTP/1.1 connection per stream.
  std::vector<std::unique_ptr<Http::CodecClient>> upstream_clients_;
  std::vector<Http::CodecClient*> upstream_client_ptrs_;
  std::vector<std::unique_ptr<Network::ConnectionImpl>> upstream_connections_;
  // Listener 127.0.0.1:10000: one connection per client.
  std::vector<std::unique_ptr<Http::ConnectionManagerImpl>> connection_managers_;
  std::vector<std::unique_ptr<Network::ConnectionImpl>> downstream_connections_;
};

void InstanceImpl::initializeStats() {
  static const char* const kClusters[] = {"backend", "ext_proc_server"};
  static const char* const kClusterCounters[] = {
      "upstream_cx_total",         "upstream_cx_destroy",       "upstream_cx_rx_bytes_total",
      "upstream_cx_tx_bytes_total", "upstream_rq_total",        "upstream_rq_timeout",
      "upstream_rq_retry",         "upstream_flow_control_paused_reading_total",
      "upstream_flow_control_backed_up_total"};
  static const char* const kClusterGauges[] = {"upstream_cx_active", "upstream_rq_active",
                                               "membership_healthy", "upstream_cx_tx_bytes_buffered"};
  static const char* const kCounters[] = {
      "http.ingress.downstream_rq_total",        "http.ingress.downstream_cx_total",
      "http.ingress.downstream_cx_http2_total",  "http.ingress.downstream_cx_http1_total",
      "http.ingress.ext_proc.streams_started",   "http.ingress.ext_proc.stream_msgs_sent",
      "http.ingress.ext_proc.stream_msgs_received", "http.ingress.ext_proc.spurious_msgs_received",
      "http.ingress.lua.errors",                 "listener.127.0.0.1_10000.downstream_cx_total",
      "wasm.envoy.wasm.runtime.v8.created",      "server.watchdog_miss"};
  static const char* const kGauges[] = {"http.ingress.downstream_cx_active",
                                        "http.ingress.downstream_rq_active",
                                        "server.memory_allocated", "server.memory_heap_size",
                                        "wasm.envoy.wasm.runtime.v8.active"};
  auto& scope = stats_store_.rootScope();
  for (const char* cluster : kClusters) {
    for (const char* name : kClusterCounters) {
      scope.counterFromStatNameWithTags(std::string("cluster.") + cluster + "." + name);
    }
    for (const char* name : kClusterGauges) {
      scope.gaugeFromStatNameWithTags(std::string("cluster.") + cluster + "." + name);
    }
  }
  for (const char* name : kCounters) {
    scope.counterFromStatNameWithTags(name);
  }
  for (const char* name : kGauges) {
    scope.gaugeFromStatNameWithTags(name);
  }
}

void InstanceImpl::initialize() {
  initializeStats();
  lua_ = std::make_unique<Extensions::Filters::Common::Lua::ThreadLocalState>(kLuaCode, kWorkers);
  // The plugin's bytecode (its content does not matter to the stand-in VM, its size does).
  if (!Extensions::Common::Wasm::createWasm(std::string(2048, 'w'))) {
    fprintf(stderr, "mini-envoy: cannot create the WASM VM\n");
    exit(1);
  }

  ext_proc_client_ = std::make_unique<Http::CodecClient>(true);
  ext_proc_connection_ = std::make_unique<Network::ConnectionImpl>(*ext_proc_client_);
  for (int i = 0; i < kStreams; i++) {
    upstream_clients_.push_back(std::make_unique<Http::CodecClient>(false));
    upstream_client_ptrs_.push_back(upstream_clients_.back().get());
    upstream_connections_.push_back(std::make_unique<Network::ConnectionImpl>(*upstream_clients_.back()));
  }

  // http_filters, in envoy.yaml's order: lua, wasm, ext_proc, router.
  filter_factories_.push_back(
      Extensions::HttpFilters::Lua::LuaFilterConfig::createFilterFactoryFromProtoTyped(kWorkers));
  filter_factories_.push_back(
      Extensions::HttpFilters::Wasm::WasmFilterConfig::createFilterFactoryFromProtoTyped());
  filter_factories_.push_back(Extensions::HttpFilters::ExternalProcessing::
                                  ExternalProcessingFilterConfig::createFilterFactoryFromProtoTyped(
                                      *ext_proc_client_->http2()));
  filter_factories_.push_back(
      Extensions::HttpFilters::RouterFilter::RouterFilterConfig::createFilterFactoryFromProtoTyped(
          &upstream_client_ptrs_));

  for (int i = 0; i < kStreams; i++) {
    connection_managers_.push_back(
        std::make_unique<Http::ConnectionManagerImpl>(i < kHttp2Streams, filter_factories_));
    downstream_connections_.push_back(
        std::make_unique<Network::ConnectionImpl>(*connection_managers_.back()));
  }
}

} // namespace Server

// =============================================================================== MainCommon
class MainCommonBase {
public:
  explicit MainCommonBase(std::string profile_prefix) : profile_prefix_(std::move(profile_prefix)) {}
  int run();

private:
  void dumpHeapProfile(const char* reason);

  std::string profile_prefix_;
  int dumps_ = 0;
};

void MainCommonBase::dumpHeapProfile(const char* reason) {
  HeapProfilerDump(reason);
  dumps_++;
  const size_t slash = profile_prefix_.rfind('/');
  const std::string base =
      slash == std::string::npos ? profile_prefix_ : profile_prefix_.substr(slash + 1);
  char file[256];
  snprintf(file, sizeof(file), "%s.%04d.heap", base.c_str(), dumps_);
  mini_envoy::snapshot(file, reason);
}

namespace {
Server::InstanceImpl* g_server = nullptr;

constexpr uint32_t kDownstreamStreamId = 1;
constexpr uint32_t kHeadersBytes = 512;
constexpr uint32_t kRequestChunk = 16384;
constexpr uint32_t kMutationBytes = 4096;

uint32_t responseChunk(int stream) { return 8192 + 1024 * static_cast<uint32_t>(stream % 4); }
// ext_proc's gRPC stream ids on the HTTP/2 connection: 3, 5, 7... in stream-arrival order.
uint32_t grpcStreamId(int stream) { return 3 + 2 * static_cast<uint32_t>(stream); }

Http::Wire headers() { return {Http::Wire::Kind::Headers, kDownstreamStreamId, kHeadersBytes, false}; }
Http::Wire data(uint32_t bytes) { return {Http::Wire::Kind::Data, kDownstreamStreamId, bytes, false}; }
} // namespace

int MainCommonBase::run() {
  Server::InstanceImpl server;
  g_server = &server;
  auto& dispatcher = server.dispatcher();

  server.initialize();
  dumpHeapProfile("startup");

  // Clients connect, send headers and start streaming; the backend starts answering.
  for (int i = 0; i < Server::kStreams; i++) {
    dispatcher.post(server.downstream(i), headers());
  }
  for (int chunk = 0; chunk < 4; chunk++) {
    for (int i = 0; i < Server::kStreams; i++) {
      dispatcher.post(server.downstream(i), data(kRequestChunk));
    }
  }
  for (int chunk = 0; chunk < 2; chunk++) {
    for (int i = 0; i < Server::kStreams; i++) {
      dispatcher.post(server.upstream(i), data(responseChunk(i)));
    }
  }
  server.run();
  dumpHeapProfile("mid-stream");

  // More of both bodies; the ext_proc server answers a few chunks but reads nothing.
  for (int chunk = 4; chunk < 28; chunk++) {
    for (int i = 0; i < Server::kStreams; i++) {
      dispatcher.post(server.downstream(i), data(kRequestChunk));
      if (chunk < 20) {
        dispatcher.post(server.upstream(i), data(responseChunk(i)));
      }
    }
  }
  for (int answer = 0; answer < 4; answer++) {
    for (int i = 0; i < 5; i++) {
      dispatcher.post(server.extProcConnection(),
                      {Http::Wire::Kind::Data, grpcStreamId(i), 5 + kMutationBytes, false});
    }
  }
  server.run();
  dumpHeapProfile("peak");

  // The ext_proc server opens its window: streams 0-4 drain completely and finish (the clients
  // reset them), streams 5-9 drain 200000 bytes each.
  for (int i = 0; i < Server::kStreams; i++) {
    const bool all = i < 5;
    dispatcher.post(server.extProcConnection(),
                    {Http::Wire::Kind::WindowUpdate, grpcStreamId(i), all ? 0u : 200000u, all});
  }
  for (int i = 0; i < 5; i++) {
    dispatcher.post(server.downstream(i), {Http::Wire::Kind::Reset, kDownstreamStreamId, 0, true});
  }
  server.run();
  dumpHeapProfile("after-drain");

  g_server = nullptr;
  return 0;
}

class MainCommon {
public:
  static int main(int argc, char** argv) {
    const std::string prefix = argc > 1 ? argv[1] : "mini-envoy";
    Profiler::Heap::startProfiler(prefix);
    mini_envoy::startLedger();
    int rc;
    {
      MainCommonBase base(prefix);
      rc = base.run();
    }
    Profiler::Heap::stopProfiler();
    mini_envoy::printGroundTruth(stdout, "mini-envoy");
    return rc;
  }
};

} // namespace Envoy

namespace mini_envoy {
Envoy::Stats::ThreadLocalStoreImpl& stats() { return Envoy::g_server->stats(); }
Envoy::Extensions::Filters::Common::Lua::ThreadLocalState& luaState() { return Envoy::g_server->lua(); }
} // namespace mini_envoy

int main(int argc, char** argv) { return Envoy::MainCommon::main(argc, argv); }
