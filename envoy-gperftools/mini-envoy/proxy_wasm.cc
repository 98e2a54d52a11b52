// libmini_envoy_ext.so: proxy-wasm-cpp-host (`proxy_wasm::`), V8's wasm-c-api (`wasm::`) and a
// stand-in for V8's internals (`v8::internal::`), with the real names and call structure:
//
//   proxy_wasm::WasmBase::load -> proxy_wasm::v8::V8::load -> wasm::Module::make
//       -> v8::internal::wasm::NativeModule::AddCodeWithCodeSpace
//   proxy_wasm::v8::V8::V8 -> v8::internal::Isolate::New -> Isolate::Init
//       -> Heap::SetUp -> MemoryAllocator::AllocatePage, Isolate::InitializeCounters
//   proxy_wasm::ContextBase::onRequestHeaders -> (std::function) V8::getModuleFunctionImpl lambda
//       -> wasm::Func::call -> v8::internal::Execution::Call -> Factory::NewByteArray
//       -> Heap::AllocateRaw
//
// Sizes are fixed so that the ground truth is exact. NOINLINE marks the frames that must exist as
// real frames; the small helpers are left to the compiler and show up as inline frames.
#include "proxy_wasm.h"

#include <cstdlib>
#include <cstring>

#define NOINLINE __attribute__((noinline, noclone))

// ------------------------------------------------------------------------------- v8::internal
namespace v8 {
namespace internal {

class Heap;

// A page of the V8 heap (real V8 mmaps these; here they come from malloc).
class MemoryAllocator {
public:
  static constexpr size_t kPageSize = 32 * 1024;
  NOINLINE static void* AllocatePage(size_t size) {
    void* page = malloc(size);
    memset(page, 0, 64); // page header
    return page;
  }
};

class Heap {
public:
  NOINLINE bool SetUp() {
    for (int i = 0; i < kInitialPages; i++) {
      pages_.push_back(MemoryAllocator::AllocatePage(MemoryAllocator::kPageSize));
    }
    return true;
  }

  // Allocates one object for the context currently executing.
  NOINLINE void* AllocateRaw(int size_in_bytes) {
    void* object = malloc(static_cast<size_t>(size_in_bytes));
    memset(object, 0, sizeof(uint64_t));
    objects_by_context_[current_context_].push_back(object);
    return object;
  }

  void ReleaseContext(uint32_t context_id) {
    auto it = objects_by_context_.find(context_id);
    if (it == objects_by_context_.end()) {
      return;
    }
    for (void* object : it->second) {
      free(object);
    }
    objects_by_context_.erase(it);
  }

  void set_current_context(uint32_t id) { current_context_ = id; }

  ~Heap() {
    for (auto& entry : objects_by_context_) {
      for (void* object : entry.second) {
        free(object);
      }
    }
    for (void* page : pages_) {
      free(page);
    }
  }

private:
  static constexpr int kInitialPages = 6;
  std::vector<void*> pages_;
  std::unordered_map<uint32_t, std::vector<void*>> objects_by_context_;
  uint32_t current_context_ = 0;
};

class Factory {
public:
  explicit Factory(Heap* heap) : heap_(heap) {}
  // Header (16 bytes) plus the payload, like V8's ByteArray.
  void* NewByteArray(int length) { return heap_->AllocateRaw(16 + length); }

private:
  Heap* heap_;
};

class Isolate {
public:
  NOINLINE static Isolate* New() {
    Isolate* isolate = new Isolate();
    isolate->Init();
    return isolate;
  }

  NOINLINE bool Init() {
    heap_.SetUp();
    InitializeCounters();
    return true;
  }

  NOINLINE void InitializeCounters() {
    // One slot per V8 counter (V8 has a few hundred of them).
    counters_ = static_cast<int64_t*>(calloc(kNumCounters, sizeof(int64_t)));
  }

  Heap* heap() { return &heap_; }
  Factory* factory() { return &factory_; }

  ~Isolate() { free(counters_); }

private:
  Isolate() = default;
  static constexpr size_t kNumCounters = 384;
  Heap heap_;
  Factory factory_{&heap_};
  int64_t* counters_ = nullptr;
};

namespace wasm {

// Compiled code of one wasm module.
class NativeModule {
public:
  NOINLINE void AddCodeWithCodeSpace(int index, size_t code_size) {
    code_.push_back(static_cast<uint8_t*>(malloc(code_size)));
    memset(code_.back(), 0xcc, 16);
    (void)index;
  }
  ~NativeModule() {
    for (uint8_t* code : code_) {
      free(code);
    }
  }

private:
  std::vector<uint8_t*> code_;
};

} // namespace wasm

class Execution {
public:
  // Runs one exported function; proxy_on_request_headers copies the headers into the VM.
  NOINLINE static uint64_t Call(Isolate* isolate, uint32_t context_id, uint64_t headers,
                                uint64_t end_of_stream) {
    isolate->heap()->set_current_context(context_id);
    Factory* factory = isolate->factory();
    factory->NewByteArray(48);                                  // the call frame's arguments
    factory->NewByteArray(static_cast<int>(64 * headers));      // the header pairs
    factory->NewByteArray(end_of_stream ? 96 : 192);            // the plugin's per-stream state
    isolate->heap()->set_current_context(0);
    return 0; // FilterHeadersStatus::Continue
  }
};

} // namespace internal
} // namespace v8

// ----------------------------------------------------------------------------- wasm (c-api)
namespace wasm {

using byte_t = char;

class Func {
public:
  Func(v8::internal::Isolate* isolate, std::string name) : isolate_(isolate), name_(std::move(name)) {}
  NOINLINE uint64_t call(uint32_t context_id, uint64_t a1, uint64_t a2, uint64_t a3) const {
    return v8::internal::Execution::Call(isolate_, context_id, a1, a2) + a3;
  }

private:
  v8::internal::Isolate* isolate_;
  std::string name_;
};

class Module {
public:
  // Compiles the module: one code object per function.
  NOINLINE static std::unique_ptr<Module> make(v8::internal::Isolate* isolate,
                                               const std::vector<byte_t>& binary) {
    auto module = std::make_unique<Module>();
    const int functions = static_cast<int>(binary.size() / 512) + 1;
    for (int i = 0; i < functions; i++) {
      module->native_module_.AddCodeWithCodeSpace(i, 4096);
    }
    (void)isolate;
    return module;
  }

private:
  v8::internal::wasm::NativeModule native_module_;
};

} // namespace wasm

// --------------------------------------------------------------------------------- proxy_wasm
namespace proxy_wasm {

WasmVm::~WasmVm() = default;

namespace v8 {

class V8 : public WasmVm {
public:
  NOINLINE V8() : isolate_(::v8::internal::Isolate::New()) {}
  ~V8() override { delete isolate_; }

  std::string_view getEngineName() override { return "v8"; }

  NOINLINE bool load(std::string_view bytecode, std::string_view precompiled) override {
    (void)precompiled;
    std::vector<wasm::byte_t> binary(bytecode.begin(), bytecode.end());
    module_ = wasm::Module::make(isolate_, binary);
    return module_ != nullptr;
  }

  NOINLINE bool link(std::string_view debug_name) override {
    (void)debug_name;
    exports_.emplace("proxy_on_request_headers",
                     std::make_unique<wasm::Func>(isolate_, "proxy_on_request_headers"));
    return true;
  }

  void getFunction(std::string_view function_name, WasmCallWord3* function) override {
    getModuleFunctionImpl(function_name, function);
  }

  void releaseContext(uint32_t context_id) override { isolate_->heap()->ReleaseContext(context_id); }

private:
  template <typename... Args>
  void getModuleFunctionImpl(std::string_view function_name,
                             std::function<uint64_t(ContextBase*, Args...)>* function) {
    const wasm::Func* func = exports_.at(std::string(function_name)).get();
    // proxy-wasm-cpp-host binds each export as a lambda that converts the arguments and calls
    // into the VM; the lambda's frame is what profiles show between ContextBase and wasm::Func.
    *function = [func, function_name = std::string(function_name)](ContextBase* context,
                                                                  Args... args) -> uint64_t {
      // (proxy-wasm keeps the name to report failures; an unnamed export counts as one here.)
      if (function_name.empty()) {
        return 1;
      }
      return func->call(context->id(), static_cast<uint64_t>(args)...);
    };
  }

  ::v8::internal::Isolate* isolate_;
  std::unique_ptr<wasm::Module> module_;
  std::unordered_map<std::string, std::unique_ptr<wasm::Func>> exports_;
};

} // namespace v8

std::unique_ptr<WasmVm> createV8Vm() { return std::make_unique<v8::V8>(); }

WasmBase::WasmBase(std::unique_ptr<WasmVm> wasm_vm, std::string_view vm_id)
    : wasm_vm_(std::move(wasm_vm)), vm_id_(vm_id) {}

WasmBase::~WasmBase() = default;

NOINLINE bool WasmBase::load(const std::string& code, bool allow_precompiled) {
  code_ = code;
  (void)allow_precompiled; // no precompiled section in the stand-in's modules
  return wasm_vm_->load(code_, std::string_view());
}

NOINLINE bool WasmBase::initialize() {
  if (!wasm_vm_->link(vm_id_)) {
    return false;
  }
  wasm_vm_->getFunction("proxy_on_request_headers", &on_request_headers_);
  return true;
}

ContextBase::ContextBase(WasmBase* wasm) : wasm_(wasm), id_(wasm->allocContextId()) {
  wasm_->registerContext(id_, this);
}

ContextBase::~ContextBase() { wasm_->unregisterContext(id_); }

NOINLINE FilterHeadersStatus ContextBase::onRequestHeaders(uint32_t headers, bool end_of_stream) {
  const uint64_t result = wasm_->on_request_headers_(this, headers, end_of_stream, 0);
  return result == 0 ? FilterHeadersStatus::Continue : FilterHeadersStatus::StopIteration;
}

NOINLINE void ContextBase::onDelete() { wasm_->wasm_vm()->releaseContext(id_); }

} // namespace proxy_wasm
