// Stats (source/common/stats/): ThreadLocalStoreImpl::ScopeImpl::counterFromStatNameWithTags ->
// safeMakeStat<Counter> -> {lambda}(Allocator&, ...) -> AllocatorImpl::makeCounter -> CounterImpl,
// with the name encoded by SymbolTableImpl::encode.
#include <atomic>

#include "envoy.h"

using mini_envoy::Path;
using mini_envoy::ScopedPath;

namespace Envoy {
namespace Stats {

ENVOY_NOINLINE std::unique_ptr<uint8_t[]> SymbolTableImpl::encode(std::string_view name,
                                                                  size_t* size) {
  // Two length bytes, then one symbol byte per dot-separated token.
  size_t tokens = 1;
  for (char c : name) {
    tokens += c == '.' ? 1 : 0;
  }
  *size = 2 + tokens;
  auto bytes = std::make_unique<uint8_t[]>(*size);
  bytes[0] = static_cast<uint8_t>(tokens & 0xff);
  bytes[1] = static_cast<uint8_t>(tokens >> 8);
  for (size_t i = 0; i < tokens; i++) {
    bytes[2 + i] = static_cast<uint8_t>(i + 1);
  }
  return bytes;
}

StatNameStorage::StatNameStorage(std::string_view name, SymbolTableImpl& table)
    : bytes_(table.encode(name, &size_)) {}

namespace {

template <class Base> class StatsSharedImpl : public Base {
public:
  StatsSharedImpl(std::string_view name, SymbolTableImpl& symbol_table)
      : name_(name, symbol_table) {}

protected:
  StatNameStorage name_;
  std::atomic<uint64_t> value_{0};
};

class CounterImpl : public StatsSharedImpl<Counter> {
public:
  using StatsSharedImpl::StatsSharedImpl;
  void inc() override { value_++; }
};

class GaugeImpl : public StatsSharedImpl<Gauge> {
public:
  using StatsSharedImpl::StatsSharedImpl;
  void set(uint64_t value) override { value_ = value; }
};

} // namespace

ENVOY_NOINLINE CounterSharedPtr AllocatorImpl::makeCounter(std::string_view name) {
  return std::make_shared<CounterImpl>(name, symbol_table_);
}

ENVOY_NOINLINE GaugeSharedPtr AllocatorImpl::makeGauge(std::string_view name) {
  return std::make_shared<GaugeImpl>(name, symbol_table_);
}

template <class StatType, class MakeStat>
ENVOY_NOINLINE StatType& ThreadLocalStoreImpl::ScopeImpl::safeMakeStat(
    std::string_view name, std::unordered_map<std::string, std::shared_ptr<StatType>>& central_cache,
    MakeStat make_stat) {
  auto it = central_cache.find(std::string(name));
  if (it != central_cache.end()) {
    return *it->second;
  }
  std::shared_ptr<StatType> stat = make_stat(parent_.alloc_, name);
  StatType& ref = *stat;
  central_cache.emplace(std::string(name), std::move(stat));
  return ref;
}

ENVOY_NOINLINE Counter& ThreadLocalStoreImpl::ScopeImpl::counterFromStatNameWithTags(
    std::string_view name) {
  ScopedPath path(Path::StatsCounter);
  return safeMakeStat<Counter>(name, counters_,
                               [](Allocator& allocator, std::string_view name) -> CounterSharedPtr {
                                 return allocator.makeCounter(name);
                               });
}

ENVOY_NOINLINE Gauge& ThreadLocalStoreImpl::ScopeImpl::gaugeFromStatNameWithTags(
    std::string_view name) {
  ScopedPath path(Path::StatsGauge);
  return safeMakeStat<Gauge>(name, gauges_,
                             [](Allocator& allocator, std::string_view name) -> GaugeSharedPtr {
                               return allocator.makeGauge(name);
                             });
}

} // namespace Stats
} // namespace Envoy
