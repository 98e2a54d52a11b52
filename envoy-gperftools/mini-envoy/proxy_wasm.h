// The WASM host, built as libmini_envoy_ext.so: proxy-wasm-cpp-host's `proxy_wasm::` classes on
// top of a stand-in for V8 (`wasm::` is V8's wasm-c-api, `v8::internal::` its heap). In Envoy these
// are linked statically; here they live in a shared library of their own so that heap profiles
// have frames in a second ELF object, mapped at its own base.
//
// The "V8 heap" mallocs its objects so that tcmalloc sees them, which real V8 does only for some
// of its structures; the point is the names and the call paths, not V8's memory layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace proxy_wasm {

enum class FilterHeadersStatus { Continue = 0, StopIteration = 1 };

class ContextBase;

// The VM interface proxy-wasm-cpp-host puts over V8, Wasmtime, WAMR...
class WasmVm {
public:
  virtual ~WasmVm();
  virtual std::string_view getEngineName() = 0;
  virtual bool load(std::string_view bytecode, std::string_view precompiled) = 0;
  virtual bool link(std::string_view debug_name) = 0;
  // Binds an exported function of the module (proxy-wasm's `WasmCallWord<3>`).
  using WasmCallWord3 = std::function<uint64_t(ContextBase*, uint32_t, uint64_t, uint64_t)>;
  virtual void getFunction(std::string_view function_name, WasmCallWord3* function) = 0;
  // Releases the VM objects a context created.
  virtual void releaseContext(uint32_t context_id) = 0;
};

std::unique_ptr<WasmVm> createV8Vm();

class WasmBase : public std::enable_shared_from_this<WasmBase> {
public:
  WasmBase(std::unique_ptr<WasmVm> wasm_vm, std::string_view vm_id);
  virtual ~WasmBase();

  bool load(const std::string& code, bool allow_precompiled);
  bool initialize();

  WasmVm* wasm_vm() const { return wasm_vm_.get(); }
  uint32_t allocContextId() { return next_context_id_++; }
  void registerContext(uint32_t id, ContextBase* context) { contexts_[id] = context; }
  void unregisterContext(uint32_t id) { contexts_.erase(id); }

  // The module's exports, bound at initialize() time.
  WasmVm::WasmCallWord3 on_request_headers_;

private:
  std::unique_ptr<WasmVm> wasm_vm_;
  std::string vm_id_;
  std::string code_;
  uint32_t next_context_id_ = 1;
  std::unordered_map<uint32_t, ContextBase*> contexts_;
};

class ContextBase {
public:
  explicit ContextBase(WasmBase* wasm);
  virtual ~ContextBase();

  FilterHeadersStatus onRequestHeaders(uint32_t headers, bool end_of_stream);
  void onDelete();

  uint32_t id() const { return id_; }
  WasmBase* wasm() const { return wasm_; }

protected:
  WasmBase* wasm_;
  uint32_t id_;
};

} // namespace proxy_wasm
