// The Lua filter (on Debian's liblua5.1; Envoy uses LuaJIT with the same API), the WASM filter's
// Envoy side (the VM is in libmini_envoy_ext.so) and the filter factories.
//
// Lua: ThreadLocalState::LuaThreadLocal::LuaThreadLocal -> luaL_newstate / luaL_openlibs /
//      luaL_dostring, and per stream HttpFilters::Lua::Filter::decodeHeaders -> doHeaders ->
//      ThreadLocalState::createCoroutine (lua_newthread) -> StreamHandleWrapper::create
//      (lua_newtable) -> Coroutine::start (lua_resume running envoy_on_request). All Lua memory
//      comes from liblua's own allocator (realloc/free), so the frames under these are liblua's.
// WASM: Common::Wasm::createWasm -> proxy_wasm::WasmBase::load / initialize, and per stream
//      Common::Wasm::Context::decodeHeaders -> proxy_wasm::ContextBase::onRequestHeaders.
extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
}

#include "envoy.h"
#include "proxy_wasm.h"

using mini_envoy::Path;
using mini_envoy::ScopedPath;

// ====================================================================== Filters::Common::Lua
namespace Envoy {
namespace Extensions {
namespace Filters {
namespace Common {
namespace Lua {

ENVOY_NOINLINE ThreadLocalState::LuaThreadLocal::LuaThreadLocal(const std::string& code)
    : state_(nullptr), global_ref_(LUA_NOREF) {
  ScopedPath path(Path::LuaThreadLocal);
  state_ = luaL_newstate();
  luaL_openlibs(state_);
  const int rc = luaL_dostring(state_, code.c_str());
  if (rc != 0) {
    fprintf(stderr, "mini-envoy: lua: %s\n", lua_tostring(state_, -1));
    abort();
  }
  // ThreadLocalState::registerGlobal("envoy_on_request")
  lua_getglobal(state_, "envoy_on_request");
  global_ref_ = luaL_ref(state_, LUA_REGISTRYINDEX);
}

ThreadLocalState::LuaThreadLocal::~LuaThreadLocal() { lua_close(state_); }

ThreadLocalState::ThreadLocalState(const std::string& code, int worker_count) {
  for (int i = 0; i < worker_count; i++) {
    workers_.push_back(std::make_unique<LuaThreadLocal>(code));
  }
}

ENVOY_NOINLINE CoroutinePtr ThreadLocalState::createCoroutine(int worker) {
  lua_State* state = workers_[worker]->state_;
  lua_State* thread = lua_newthread(state);
  // Anchor the thread in the registry so the GC leaves it alone while the stream lives.
  const int thread_ref = luaL_ref(state, LUA_REGISTRYINDEX);
  return std::make_unique<Coroutine>(std::make_pair(thread, state), thread_ref);
}

Coroutine::Coroutine(std::pair<lua_State*, lua_State*> new_thread_state, int thread_ref)
    : coroutine_state_(new_thread_state.first), main_thread_state_(new_thread_state.second),
      thread_ref_(thread_ref) {}

ENVOY_NOINLINE void Coroutine::start(int function_ref, int num_args) {
  lua_rawgeti(coroutine_state_, LUA_REGISTRYINDEX, function_ref);
  lua_insert(coroutine_state_, -(num_args + 1));
  const int rc = lua_resume(coroutine_state_, num_args);
  if (rc != 0) {
    fprintf(stderr, "mini-envoy: lua: %s\n", lua_tostring(coroutine_state_, -1));
    abort();
  }
}

} // namespace Lua
} // namespace Common
} // namespace Filters

// =========================================================================== HttpFilters::Lua
namespace HttpFilters {
namespace Lua {

using Filters::Common::Lua::Coroutine;
using Filters::Common::Lua::CoroutinePtr;

// The `request_handle` the script sees: a table of the request headers.
class StreamHandleWrapper {
public:
  // Pushes the handle onto the coroutine's stack.
  ENVOY_NOINLINE static void create(lua_State* state, const Http::RequestHeaderMap& headers) {
    lua_newtable(state);
    headers.iterate([state](std::string_view key, std::string_view value) {
      lua_pushlstring(state, value.data(), value.size());
      lua_setfield(state, -2, std::string(key).c_str());
    });
  }
};

class Filter : public Http::StreamFilter {
public:
  explicit Filter(int worker) : worker_(worker) {}

  Http::FilterHeadersStatus decodeHeaders(Http::RequestHeaderMap& headers, bool end_stream) override;
  void onDestroy() override;

private:
  Http::FilterHeadersStatus doHeaders(Http::RequestHeaderMap& headers, bool end_stream);

  int worker_;
  CoroutinePtr coroutine_;
  int handle_ref_ = LUA_NOREF;
};

ENVOY_NOINLINE Http::FilterHeadersStatus Filter::decodeHeaders(Http::RequestHeaderMap& headers,
                                                               bool end_stream) {
  ScopedPath path(Path::LuaDecodeHeaders);
  return doHeaders(headers, end_stream);
}

ENVOY_NOINLINE Http::FilterHeadersStatus Filter::doHeaders(Http::RequestHeaderMap& headers,
                                                           bool end_stream) {
  (void)end_stream;
  auto& lua = mini_envoy::luaState();
  coroutine_ = lua.createCoroutine(worker_);
  lua_State* co = coroutine_->luaState();
  StreamHandleWrapper::create(co, headers);
  // Keep the handle (and what the script hangs on it) for the stream's lifetime.
  lua_pushvalue(co, -1);
  handle_ref_ = luaL_ref(co, LUA_REGISTRYINDEX);
  coroutine_->start(lua.getGlobalRef(worker_), 1);
  return Http::FilterHeadersStatus::Continue;
}

ENVOY_NOINLINE void Filter::onDestroy() {
  ScopedPath path(Path::LuaOnDestroy);
  if (coroutine_ == nullptr) {
    return;
  }
  lua_State* state = mini_envoy::luaState().state(worker_);
  luaL_unref(state, LUA_REGISTRYINDEX, handle_ref_);
  luaL_unref(state, LUA_REGISTRYINDEX, coroutine_->threadRef());
  coroutine_.reset();
  lua_gc(state, LUA_GCCOLLECT, 0);
}

Http::FilterFactoryCb LuaFilterConfig::createFilterFactoryFromProtoTyped(int worker_count) {
  auto next_worker = std::make_shared<int>(0);
  return [next_worker, worker_count](Http::FilterChainFactoryCallbacks& callbacks) {
    callbacks.addStreamFilter(std::make_shared<Filter>((*next_worker)++ % worker_count));
  };
}

} // namespace Lua
} // namespace HttpFilters

// ============================================================================= Common::Wasm
namespace Common {
namespace Wasm {

class Wasm : public proxy_wasm::WasmBase {
public:
  using WasmBase::WasmBase;
};

// The WASM HTTP filter is the plugin's per-stream context itself.
class Context : public proxy_wasm::ContextBase, public Http::StreamFilter {
public:
  explicit Context(Wasm* wasm) : ContextBase(wasm) {}
  Http::FilterHeadersStatus decodeHeaders(Http::RequestHeaderMap& headers, bool end_stream) override;
  void onDestroy() override { onDelete(); }
};

namespace {
std::shared_ptr<Wasm>& singletonWasm() {
  static std::shared_ptr<Wasm> wasm;
  return wasm;
}
} // namespace

ENVOY_NOINLINE Http::FilterHeadersStatus Context::decodeHeaders(Http::RequestHeaderMap& headers,
                                                                bool end_stream) {
  ScopedPath path(Path::WasmDecodeHeaders);
  const auto status = onRequestHeaders(static_cast<uint32_t>(headers.size()), end_stream);
  return status == proxy_wasm::FilterHeadersStatus::Continue ? Http::FilterHeadersStatus::Continue
                                                             : Http::FilterHeadersStatus::StopIteration;
}

ENVOY_NOINLINE bool createWasm(const std::string& code) {
  ScopedPath path(Path::WasmCreate);
  auto wasm = std::make_shared<Wasm>(proxy_wasm::createV8Vm(), "mini_envoy_vm");
  if (!wasm->load(code, false) || !wasm->initialize()) {
    return false;
  }
  singletonWasm() = std::move(wasm);
  return true;
}

Wasm* wasm() { return singletonWasm().get(); }

} // namespace Wasm
} // namespace Common

namespace HttpFilters {
namespace Wasm {

Http::FilterFactoryCb WasmFilterConfig::createFilterFactoryFromProtoTyped() {
  return [](Http::FilterChainFactoryCallbacks& callbacks) {
    callbacks.addStreamFilter(
        std::make_shared<Common::Wasm::Context>(Common::Wasm::wasm()));
  };
}

} // namespace Wasm

namespace RouterFilter {

Http::FilterFactoryCb
RouterFilterConfig::createFilterFactoryFromProtoTyped(std::vector<Http::CodecClient*>* upstreams) {
  return [upstreams](Http::FilterChainFactoryCallbacks& callbacks) {
    callbacks.addStreamFilter(std::make_shared<Router::ProdFilter>(upstreams));
  };
}

} // namespace RouterFilter
} // namespace HttpFilters
} // namespace Extensions
} // namespace Envoy
