// mini-envoy: the classes of Envoy (v1.34) that a heap profile of the ext_proc incident runs
// through, reduced to what allocates. Namespaces, class and function names and the call paths
// follow Envoy's sources (source/common/buffer, source/common/grpc, source/common/http,
// source/common/router, source/common/stats, source/extensions/filters/http/{ext_proc,lua,wasm},
// source/extensions/common/wasm); bodies are simplified.
//
// ENVOY_NOINLINE marks functions that must be real frames (the markers of ground_truth.h and the
// frames the attribution rules look for). Functions defined in class bodies here are left to the
// compiler: at -O2 most are inlined and appear as inline frames in DWARF.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ground_truth.h"

#define ENVOY_NOINLINE __attribute__((noinline, noclone))

struct lua_State;

// ================================================================================== protobuf
namespace google {
namespace protobuf {

class Message {
public:
  virtual ~Message() = default;
  virtual size_t ByteSizeLong() const = 0;
  int ByteSize() const { return static_cast<int>(ByteSizeLong()); }
  virtual uint8_t* SerializeWithCachedSizesToArray(uint8_t* target) const = 0;
  virtual bool ParseFromString(const std::string& data) {
    (void)data;
    return false;
  }
};

// Only the heap fallback of CreateMaybeMessage: Envoy's ext_proc messages are not arena-allocated.
class Arena {
public:
  template <typename T> static T* CreateMaybeMessage(Arena* arena) {
    (void)arena;
    return new T();
  }
};

namespace io {
inline size_t VarintSize64(uint64_t value) {
  size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    n++;
  }
  return n;
}
inline uint8_t* WriteVarint64ToArray(uint64_t value, uint8_t* target) {
  while (value >= 0x80) {
    *target++ = static_cast<uint8_t>(value | 0x80);
    value >>= 7;
  }
  *target++ = static_cast<uint8_t>(value);
  return target;
}
} // namespace io

} // namespace protobuf
} // namespace google

// ==================================================================== envoy.service.ext_proc.v3
namespace envoy {
namespace service {
namespace ext_proc {
namespace v3 {

class HttpBody : public google::protobuf::Message {
public:
  void set_body(std::string&& body) { body_ = std::move(body); }
  void set_end_of_stream(bool end_of_stream) { end_of_stream_ = end_of_stream; }
  size_t ByteSizeLong() const override;
  uint8_t* SerializeWithCachedSizesToArray(uint8_t* target) const override;

private:
  std::string body_;
  bool end_of_stream_ = false;
};

class HttpHeaders : public google::protobuf::Message {
public:
  void add_header(std::string_view key, std::string_view value) {
    headers_.emplace_back(std::string(key), std::string(value));
  }
  size_t ByteSizeLong() const override;
  uint8_t* SerializeWithCachedSizesToArray(uint8_t* target) const override;

private:
  std::vector<std::pair<std::string, std::string>> headers_;
};

class ProcessingRequest : public google::protobuf::Message {
public:
  ProcessingRequest() = default;
  ProcessingRequest(ProcessingRequest&& other) noexcept
      : request_headers_(std::exchange(other.request_headers_, nullptr)),
        request_body_(std::exchange(other.request_body_, nullptr)),
        response_body_(std::exchange(other.response_body_, nullptr)) {}
  ~ProcessingRequest() override {
    delete request_headers_;
    delete request_body_;
    delete response_body_;
  }
  HttpHeaders* mutable_request_headers() {
    if (request_headers_ == nullptr) {
      request_headers_ = google::protobuf::Arena::CreateMaybeMessage<HttpHeaders>(nullptr);
    }
    return request_headers_;
  }
  HttpBody* mutable_request_body() {
    if (request_body_ == nullptr) {
      request_body_ = google::protobuf::Arena::CreateMaybeMessage<HttpBody>(nullptr);
    }
    return request_body_;
  }
  HttpBody* mutable_response_body() {
    if (response_body_ == nullptr) {
      response_body_ = google::protobuf::Arena::CreateMaybeMessage<HttpBody>(nullptr);
    }
    return response_body_;
  }
  size_t ByteSizeLong() const override;
  uint8_t* SerializeWithCachedSizesToArray(uint8_t* target) const override;

private:
  HttpHeaders* request_headers_ = nullptr; // field 2
  HttpBody* request_body_ = nullptr;       // field 4
  HttpBody* response_body_ = nullptr;      // field 5
};

// What the ext_proc server answers; mini-envoy keeps the body mutation it carries.
class ProcessingResponse : public google::protobuf::Message {
public:
  void set_body_mutation(std::string&& body) { body_mutation_ = std::move(body); }
  size_t ByteSizeLong() const override { return body_mutation_.size(); }
  bool ParseFromString(const std::string& data) override {
    body_mutation_ = data;
    return true;
  }
  const std::string& body_mutation() const { return body_mutation_; }
  uint8_t* SerializeWithCachedSizesToArray(uint8_t* target) const override {
    memcpy(target, body_mutation_.data(), body_mutation_.size());
    return target + body_mutation_.size();
  }

private:
  std::string body_mutation_;
};

} // namespace v3
} // namespace ext_proc
} // namespace service
} // namespace envoy

namespace Envoy {

namespace Protobuf = google::protobuf;

// ==================================================================================== Buffer
namespace Buffer {

struct RawSlice {
  void* mem_ = nullptr;
  size_t len_ = 0;
};

// source/common/buffer/buffer_impl.h: a contiguous chunk of a buffer's storage.
class Slice {
public:
  using StoragePtr = std::unique_ptr<uint8_t[]>;
  static constexpr uint64_t default_slice_size_ = 16384;

  Slice() = default;
  // Inlined into its callers, so the frame under newStorage is `Slice::Slice` (inline).
  explicit Slice(uint64_t min_capacity)
      : capacity_(sliceSize(min_capacity)), storage_(newStorage(capacity_)),
        base_(storage_.get()) {}
  Slice(Slice&& rhs) noexcept { *this = std::move(rhs); }
  Slice& operator=(Slice&& rhs) noexcept {
    if (this != &rhs) {
      capacity_ = std::exchange(rhs.capacity_, 0);
      storage_ = std::move(rhs.storage_);
      base_ = std::exchange(rhs.base_, nullptr);
      data_ = std::exchange(rhs.data_, 0);
      reservable_ = std::exchange(rhs.reservable_, 0);
    }
    return *this;
  }

  // Rounds up to whole 4 KiB pages, as Envoy does.
  static uint64_t sliceSize(uint64_t data_size) {
    static constexpr uint64_t PageSize = 4096;
    const uint64_t num_pages = (data_size + PageSize - 1) / PageSize;
    return num_pages * PageSize;
  }

  // The allocation every buffer byte in Envoy comes from.
  static StoragePtr newStorage(uint64_t capacity);

  uint64_t dataSize() const { return reservable_ - data_; }
  uint64_t reservableSize() const { return capacity_ - reservable_; }
  uint8_t* data() { return base_ + data_; }
  RawSlice reserve(uint64_t size) {
    const uint64_t n = size < reservableSize() ? size : reservableSize();
    return {base_ + reservable_, n};
  }
  void commit(uint64_t size) { reservable_ += size; }
  uint64_t append(const void* data, uint64_t size) {
    const uint64_t n = size < reservableSize() ? size : reservableSize();
    memcpy(base_ + reservable_, data, n);
    reservable_ += n;
    return n;
  }
  // A slice that only gets prepended to keeps its data at the end, as Envoy's does.
  uint64_t prepend(const void* data, uint64_t size) {
    if (data_ == 0 && reservable_ == 0) {
      data_ = reservable_ = capacity_;
    }
    const uint64_t n = size < data_ ? size : data_;
    data_ -= n;
    memcpy(base_ + data_, static_cast<const uint8_t*>(data) + (size - n), n);
    return n;
  }
  void drain(uint64_t size) { data_ += size; }

private:
  uint64_t capacity_ = 0;
  StoragePtr storage_;
  uint8_t* base_ = nullptr;
  uint64_t data_ = 0;
  uint64_t reservable_ = 0;
};

// A ring of slices with 8 inline entries; more slices move it to the heap (growRing).
class SliceDeque {
public:
  SliceDeque() : ring_(inline_ring_), capacity_(InlineRingCapacity) {}
  SliceDeque(const SliceDeque&) = delete;
  SliceDeque& operator=(const SliceDeque&) = delete;

  void emplace_back(Slice&& slice) {
    if (size_ == capacity_) {
      growRing();
    }
    ring_[internalIndex(size_)] = std::move(slice);
    size_++;
  }
  void emplace_front(Slice&& slice) {
    if (size_ == capacity_) {
      growRing();
    }
    start_ = (start_ + capacity_ - 1) % capacity_;
    ring_[start_] = std::move(slice);
    size_++;
  }
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  Slice& front() { return ring_[start_]; }
  Slice& back() { return ring_[internalIndex(size_ - 1)]; }
  Slice& operator[](size_t i) { return ring_[internalIndex(i)]; }
  void pop_front() {
    ring_[start_] = Slice();
    start_ = (start_ + 1) % capacity_;
    size_--;
  }

private:
  void growRing();
  size_t internalIndex(size_t index) const { return (start_ + index) % capacity_; }

  static constexpr size_t InlineRingCapacity = 8;
  Slice inline_ring_[InlineRingCapacity];
  std::unique_ptr<Slice[]> external_ring_;
  Slice* ring_;
  size_t start_ = 0;
  size_t size_ = 0;
  size_t capacity_;
};

class Instance {
public:
  virtual ~Instance() = default;
  virtual void add(const void* data, uint64_t size) = 0;
  virtual void prepend(std::string_view data) = 0;
  virtual void move(Instance& rhs) = 0;
  virtual void drain(uint64_t size) = 0;
  virtual uint64_t length() const = 0;
  virtual std::string toString() const = 0;
};
using InstancePtr = std::unique_ptr<Instance>;

class OwnedImpl : public Instance {
public:
  void add(const void* data, uint64_t size) override;
  void prepend(std::string_view data) override;
  void move(Instance& rhs) override;
  void drain(uint64_t size) override;
  uint64_t length() const override { return length_; }
  std::string toString() const override;

  // One slice with room for `length` bytes; commit what was written with commit().
  RawSlice reserveSingleSlice(uint64_t length);
  void commit(uint64_t length) {
    slices_.back().commit(length);
    length_ += length;
  }
  // Reserves default-size slices for a socket read of `length` bytes...
  void reserveForRead(uint64_t length);
  // ...and commits what the read wrote into them.
  void commitRead(uint64_t length, uint8_t pattern);
  // The slices' data, without allocating: fills up to `max` entries, returns how many.
  size_t getRawSlices(RawSlice* out, size_t max);

private:
  SliceDeque slices_;
  uint64_t length_ = 0;
};

} // namespace Buffer

namespace Http {
// The bytes a mini-envoy "socket" delivers carry their meaning on the side: the codecs read
// `Wire` instead of parsing HTTP.
struct Wire {
  enum class Kind { Headers, Data, WindowUpdate, Reset };
  Kind kind;
  uint32_t stream_id;
  uint32_t bytes;
  bool end_stream;
};

} // namespace Http

namespace Network {
class ReadFilter {
public:
  virtual ~ReadFilter() = default;
  virtual void onData(Buffer::Instance& data, const Http::Wire& wire) = 0;
};

} // namespace Network

// ====================================================================================== Http
namespace Http {

class LowerCaseString {
public:
  explicit LowerCaseString(std::string_view s) : string_(s) {}
  const std::string& get() const { return string_; }

private:
  std::string string_;
};

class HeaderString {
public:
  explicit HeaderString(std::string_view s) : buffer_(s) {}
  std::string_view getStringView() const { return buffer_; }

private:
  std::string buffer_;
};

class HeaderMapImpl {
public:
  struct HeaderEntryImpl {
    HeaderEntryImpl(HeaderString&& key, HeaderString&& value)
        : key_(std::move(key)), value_(std::move(value)) {}
    HeaderString key_;
    HeaderString value_;
  };

  void addCopy(const LowerCaseString& key, std::string_view value);
  size_t size() const { return headers_.size(); }
  template <typename F> void iterate(F f) const {
    for (const auto& e : headers_) {
      f(e.key_.getStringView(), e.value_.getStringView());
    }
  }

protected:
  void insertByKey(HeaderString&& key, HeaderString&& value) {
    headers_.emplace_back(std::move(key), std::move(value));
  }
  std::list<HeaderEntryImpl> headers_;
};

class RequestHeaderMapImpl : public HeaderMapImpl {
public:
  static std::unique_ptr<RequestHeaderMapImpl> create() {
    return std::make_unique<RequestHeaderMapImpl>();
  }
};
using RequestHeaderMap = RequestHeaderMapImpl;
using RequestHeaderMapPtr = std::unique_ptr<RequestHeaderMapImpl>;

enum class FilterHeadersStatus { Continue, StopIteration };
enum class FilterDataStatus { Continue, StopIterationNoBuffer };

class FilterManager;

// The union of Envoy's StreamDecoderFilter and StreamEncoderFilter, with pass-through defaults.
class StreamFilter {
public:
  virtual ~StreamFilter() = default;
  virtual void setCallbacks(FilterManager& callbacks) { callbacks_ = &callbacks; }
  virtual FilterHeadersStatus decodeHeaders(RequestHeaderMap&, bool) {
    return FilterHeadersStatus::Continue;
  }
  virtual FilterDataStatus decodeData(Buffer::Instance&, bool) { return FilterDataStatus::Continue; }
  virtual FilterDataStatus encodeData(Buffer::Instance&, bool) { return FilterDataStatus::Continue; }
  virtual void onDestroy() {}

protected:
  FilterManager* callbacks_ = nullptr;
};
using StreamFilterSharedPtr = std::shared_ptr<StreamFilter>;

class FilterChainFactoryCallbacks {
public:
  virtual ~FilterChainFactoryCallbacks() = default;
  virtual void addStreamFilter(StreamFilterSharedPtr filter) = 0;
};
using FilterFactoryCb = std::function<void(FilterChainFactoryCallbacks&)>;

class FilterManager : public FilterChainFactoryCallbacks {
public:
  explicit FilterManager(const std::vector<FilterFactoryCb>& factories) : factories_(factories) {}
  void createFilterChain();
  void addStreamFilter(StreamFilterSharedPtr filter) override {
    filter->setCallbacks(*this);
    filters_.push_back(std::move(filter));
  }
  void decodeHeaders(RequestHeaderMap& headers, bool end_stream);
  void decodeData(Buffer::Instance& data, bool end_stream);
  void encodeData(Buffer::Instance& data, bool end_stream);
  void onStreamComplete();

private:
  const std::vector<FilterFactoryCb>& factories_;
  std::vector<StreamFilterSharedPtr> filters_;
};

class ConnectionManagerImpl;

// What a codec delivers a request to (Envoy's RequestDecoder).
class RequestDecoder {
public:
  virtual ~RequestDecoder() = default;
  virtual void decodeHeaders(RequestHeaderMapPtr&& headers, bool end_stream) = 0;
  virtual void decodeData(Buffer::Instance& data, bool end_stream) = 0;
};

// What the upstream codec delivers a response to (Envoy's ResponseDecoder).
class ResponseDecoder {
public:
  virtual ~ResponseDecoder() = default;
  virtual void decodeData(Buffer::Instance& data, bool end_stream) = 0;
};

// Callbacks from a server codec to the HTTP connection manager.
class ServerConnectionCallbacks {
public:
  virtual ~ServerConnectionCallbacks() = default;
  virtual RequestDecoder& newStream(uint32_t stream_id) = 0;
  virtual void onStreamReset(uint32_t stream_id) = 0;
};

class ServerConnection {
public:
  virtual ~ServerConnection() = default;
  virtual void dispatch(Buffer::Instance& data, const Wire& wire) = 0;
  virtual void removeStream(uint32_t stream_id) = 0;
};

namespace Http2 {

class ConnectionImpl {
public:
  class StreamImpl {
  public:
    virtual ~StreamImpl() = default;
    void onDataSourceSend(uint64_t length);
    void encodeData(Buffer::Instance& data, bool end_stream);
    uint64_t pendingSendLength() const { return pending_send_data_.length(); }

    Buffer::OwnedImpl pending_recv_data_;
    Buffer::OwnedImpl pending_send_data_;
    RequestHeaderMapPtr headers_;
    uint32_t stream_id_ = 0;
  };
  class ServerStreamImpl : public StreamImpl {
  public:
    RequestDecoder* request_decoder_ = nullptr;
  };
  class ClientStreamImpl : public StreamImpl {
  public:
    // Http::AsyncStreamImpl, which hands the data to the gRPC stream.
    ResponseDecoder* response_decoder_ = nullptr;
  };

  virtual ~ConnectionImpl() = default;
  void onData(int32_t stream_id, const uint8_t* data, size_t len);
  void onHeader(StreamImpl& stream, std::string_view name, std::string_view value);
  virtual StreamImpl* getStream(int32_t stream_id) = 0;
  virtual void onFrameReceived(const Wire& wire) = 0;
};

class ServerConnectionImpl : public ConnectionImpl, public ServerConnection {
public:
  explicit ServerConnectionImpl(ServerConnectionCallbacks& callbacks) : callbacks_(callbacks) {}
  void dispatch(Buffer::Instance& data, const Wire& wire) override;
  void removeStream(uint32_t stream_id) override { streams_.erase(stream_id); }
  int onBeginHeaders(int32_t stream_id);
  StreamImpl* getStream(int32_t stream_id) override;
  void onFrameReceived(const Wire& wire) override;

private:
  ServerConnectionCallbacks& callbacks_;
  std::unordered_map<uint32_t, std::unique_ptr<ServerStreamImpl>> streams_;
};

class ClientConnectionImpl : public ConnectionImpl {
public:
  ClientStreamImpl& newStream(uint32_t stream_id);
  void dispatch(Buffer::Instance& data, const Wire& wire);
  StreamImpl* getStream(int32_t stream_id) override;
  void onFrameReceived(const Wire& wire) override;
  void sendPendingFrames(uint64_t window);
  void removeStream(uint32_t stream_id) { streams_.erase(stream_id); }

private:
  std::unordered_map<uint32_t, std::unique_ptr<ClientStreamImpl>> streams_;
  std::vector<uint32_t> stream_order_;
};

} // namespace Http2

namespace Http1 {

class ConnectionImpl {
public:
  virtual ~ConnectionImpl() = default;
  void dispatch(Buffer::Instance& data, const Wire& wire);
  void bufferBody(Buffer::Instance& data, size_t length);
  void dispatchBufferedBody(bool end_stream);
  void completeCurrentHeader(std::string_view name, std::string_view value);

protected:
  virtual void onMessageBeginImpl() = 0;
  virtual void onHeadersCompleteBase() = 0;
  virtual void onBody(Buffer::Instance& data, bool end_stream) = 0;
  virtual HeaderMapImpl* headersOrTrailers() = 0;
  virtual void onResetStream() {}

  Buffer::OwnedImpl buffered_body_;
};

class ServerConnectionImpl : public ConnectionImpl, public ServerConnection {
public:
  explicit ServerConnectionImpl(ServerConnectionCallbacks& callbacks) : callbacks_(callbacks) {}
  void dispatch(Buffer::Instance& data, const Wire& wire) override {
    ConnectionImpl::dispatch(data, wire);
  }
  void removeStream(uint32_t) override { active_request_.reset(); }

  struct ActiveRequest {
    RequestDecoder* request_decoder_ = nullptr;
    RequestHeaderMapPtr headers_;
  };

protected:
  void onMessageBeginImpl() override;
  void onHeadersCompleteBase() override;
  void onBody(Buffer::Instance& data, bool end_stream) override;
  HeaderMapImpl* headersOrTrailers() override { return active_request_->headers_.get(); }
  void onResetStream() override { callbacks_.onStreamReset(1); }

private:
  ServerConnectionCallbacks& callbacks_;
  std::unique_ptr<ActiveRequest> active_request_;
};

class ClientConnectionImpl : public ConnectionImpl {
public:
  void setResponseDecoder(ResponseDecoder* decoder) { response_decoder_ = decoder; }

protected:
  void onMessageBeginImpl() override {}
  void onHeadersCompleteBase() override {}
  void onBody(Buffer::Instance& data, bool end_stream) override;
  HeaderMapImpl* headersOrTrailers() override { return nullptr; }

private:
  ResponseDecoder* response_decoder_ = nullptr;
};

} // namespace Http1

// source/common/http/conn_manager_impl.h
class ConnectionManagerImpl : public ServerConnectionCallbacks, public Network::ReadFilter {
public:
  ConnectionManagerImpl(bool http2, const std::vector<FilterFactoryCb>& factories);
  ~ConnectionManagerImpl() override;

  class ActiveStream : public RequestDecoder {
  public:
    ActiveStream(ConnectionManagerImpl& parent, uint32_t stream_id)
        : parent_(parent), stream_id_(stream_id), filter_manager_(parent.factories_) {}
    void decodeHeaders(RequestHeaderMapPtr&& headers, bool end_stream) override;
    void decodeData(Buffer::Instance& data, bool end_stream) override;

    ConnectionManagerImpl& parent_;
    uint32_t stream_id_;
    FilterManager filter_manager_;
    RequestHeaderMapPtr request_headers_;
  };

  // Network::ReadFilter
  void onData(Buffer::Instance& data, const Wire& wire) override;
  RequestDecoder& newStream(uint32_t stream_id) override;
  void onStreamReset(uint32_t stream_id) override { doEndStream(stream_id); }
  void doEndStream(uint32_t stream_id);

private:
  const std::vector<FilterFactoryCb>& factories_;
  std::unique_ptr<ServerConnection> codec_;
  std::unordered_map<uint32_t, std::unique_ptr<ActiveStream>> streams_;
};

// The upstream side of one connection (HTTP/1 to the cluster, HTTP/2 to the ext_proc server).
class CodecClient : public Network::ReadFilter {
public:
  explicit CodecClient(bool http2);
  void onData(Buffer::Instance& data, const Wire& wire) override;
  Http1::ClientConnectionImpl* http1() { return http1_.get(); }
  Http2::ClientConnectionImpl* http2() { return http2_.get(); }

private:
  std::unique_ptr<Http1::ClientConnectionImpl> http1_;
  std::unique_ptr<Http2::ClientConnectionImpl> http2_;
};

// Http::AsyncClient's stream: what gRPC sends through and receives from.
class AsyncClientStreamCallbacks {
public:
  virtual ~AsyncClientStreamCallbacks() = default;
  virtual void onData(Buffer::Instance& data, bool end_stream) = 0;
};

class AsyncStreamImpl : public ResponseDecoder {
public:
  AsyncStreamImpl(Http2::ConnectionImpl::ClientStreamImpl& stream,
                  AsyncClientStreamCallbacks& callbacks)
      : stream_(stream), stream_callbacks_(callbacks) {
    stream_.response_decoder_ = this;
  }
  void sendData(Buffer::Instance& data, bool end_stream);
  void decodeData(Buffer::Instance& data, bool end_stream) override {
    stream_callbacks_.onData(data, end_stream);
  }

private:
  Http2::ConnectionImpl::ClientStreamImpl& stream_;
  AsyncClientStreamCallbacks& stream_callbacks_;
};

} // namespace Http

// =================================================================================== Network
namespace Network {

class IoSocketHandleImpl {
public:
  // Reads `length` bytes (their content is a fixed pattern) into `buffer`.
  uint64_t read(Buffer::OwnedImpl& buffer, uint64_t length);
};

class ConnectionImpl {
public:
  explicit ConnectionImpl(ReadFilter& read_filter) : read_filter_(read_filter) {}
  void onFileEvent(uint32_t events);
  void onReadReady();
  void post(const Http::Wire& wire) { pending_wire_.push_back(wire); }

private:
  IoSocketHandleImpl io_handle_;
  Buffer::OwnedImpl read_buffer_;
  ReadFilter& read_filter_;
  std::vector<Http::Wire> pending_wire_;
  size_t next_wire_ = 0;
};

} // namespace Network

// ====================================================================================== Grpc
namespace Grpc {

class Common {
public:
  static Buffer::InstancePtr serializeMessage(const Protobuf::Message& message);
  static void prependGrpcFrameHeader(Buffer::Instance& buffer);
};

class RawAsyncStream {
public:
  virtual ~RawAsyncStream() = default;
  virtual void sendMessageRaw(Buffer::InstancePtr&& request, bool end_stream) = 0;
};

class RawAsyncStreamCallbacks {
public:
  virtual ~RawAsyncStreamCallbacks() = default;
  virtual bool onReceiveMessageRaw(Buffer::InstancePtr&& response) = 0;
};

namespace Internal {
void sendMessageUntyped(RawAsyncStream* stream, const Protobuf::Message& request, bool end_stream);
std::unique_ptr<Protobuf::Message> parseMessageUntyped(std::unique_ptr<Protobuf::Message>&& message,
                                                       Buffer::InstancePtr&& response);
} // namespace Internal

// source/common/grpc/typed_async_client.h: the typed wrapper is a template, inlined.
template <typename Request> class AsyncStream {
public:
  AsyncStream() = default;
  explicit AsyncStream(RawAsyncStream* stream) : stream_(stream) {}
  void sendMessage(const Protobuf::Message& request, bool end_stream) {
    Internal::sendMessageUntyped(stream_, request, end_stream);
  }
  RawAsyncStream* operator->() { return stream_; }

private:
  RawAsyncStream* stream_ = nullptr;
};

// source/common/grpc/async_client_impl.h
class AsyncStreamImpl : public RawAsyncStream, public Http::AsyncClientStreamCallbacks {
public:
  AsyncStreamImpl(Http::Http2::ConnectionImpl::ClientStreamImpl& stream,
                  RawAsyncStreamCallbacks& callbacks);
  void sendMessageRaw(Buffer::InstancePtr&& request, bool end_stream) override;
  void onData(Buffer::Instance& data, bool end_stream) override;

private:
  Http::AsyncStreamImpl http_stream_;
  RawAsyncStreamCallbacks& callbacks_;
};

} // namespace Grpc

// ===================================================================================== Stats
namespace Stats {

class SymbolTableImpl {
public:
  // Encodes a dotted name into Envoy's compact form (one byte per token plus a length prefix).
  std::unique_ptr<uint8_t[]> encode(std::string_view name, size_t* size);
};

class StatName {
public:
  StatName() = default;
  explicit StatName(const uint8_t* bytes) : bytes_(bytes) {}
  const uint8_t* data() const { return bytes_; }

private:
  const uint8_t* bytes_ = nullptr;
};

class StatNameStorage {
public:
  StatNameStorage(std::string_view name, SymbolTableImpl& table);
  StatName statName() const { return StatName(bytes_.get()); }

private:
  std::unique_ptr<uint8_t[]> bytes_;
  size_t size_ = 0;
};

class Metric {
public:
  virtual ~Metric() = default;
};
class Counter : public Metric {
public:
  virtual void inc() = 0;
};
class Gauge : public Metric {
public:
  virtual void set(uint64_t value) = 0;
};
using CounterSharedPtr = std::shared_ptr<Counter>;
using GaugeSharedPtr = std::shared_ptr<Gauge>;

class Allocator {
public:
  virtual ~Allocator() = default;
  virtual CounterSharedPtr makeCounter(std::string_view name) = 0;
  virtual GaugeSharedPtr makeGauge(std::string_view name) = 0;
};

class AllocatorImpl : public Allocator {
public:
  explicit AllocatorImpl(SymbolTableImpl& symbol_table) : symbol_table_(symbol_table) {}
  CounterSharedPtr makeCounter(std::string_view name) override;
  GaugeSharedPtr makeGauge(std::string_view name) override;

private:
  SymbolTableImpl& symbol_table_;
};

class ThreadLocalStoreImpl {
public:
  explicit ThreadLocalStoreImpl(Allocator& alloc) : alloc_(alloc), default_scope_(*this) {}

  class ScopeImpl {
  public:
    explicit ScopeImpl(ThreadLocalStoreImpl& parent) : parent_(parent) {}
    Counter& counterFromStatNameWithTags(std::string_view name);
    Gauge& gaugeFromStatNameWithTags(std::string_view name);

  private:
    template <class StatType, class MakeStat>
    StatType& safeMakeStat(std::string_view name,
                           std::unordered_map<std::string, std::shared_ptr<StatType>>& central_cache,
                           MakeStat make_stat);
    ThreadLocalStoreImpl& parent_;
    std::unordered_map<std::string, CounterSharedPtr> counters_;
    std::unordered_map<std::string, GaugeSharedPtr> gauges_;
  };

  ScopeImpl& rootScope() { return default_scope_; }

private:
  Allocator& alloc_;
  ScopeImpl default_scope_;
};

} // namespace Stats

// ================================================================================ Extensions
namespace Extensions {

namespace HttpFilters {
namespace ExternalProcessing {

using envoy::service::ext_proc::v3::ProcessingRequest;
using envoy::service::ext_proc::v3::ProcessingResponse;
using ProcessingResponsePtr = std::unique_ptr<ProcessingResponse>;

class ExternalProcessorCallbacks {
public:
  virtual ~ExternalProcessorCallbacks() = default;
  virtual void onReceiveMessage(std::unique_ptr<ProcessingResponse>&& response) = 0;
};

// source/extensions/filters/http/ext_proc/client_impl.h
class ExternalProcessorStreamImpl : public Grpc::RawAsyncStreamCallbacks {
public:
  ExternalProcessorStreamImpl(Http::Http2::ClientConnectionImpl& grpc_connection, uint32_t stream_id,
                              ExternalProcessorCallbacks& callbacks);
  ~ExternalProcessorStreamImpl() override;
  void send(ProcessingRequest&& request, bool end_stream);
  bool onReceiveMessageRaw(Buffer::InstancePtr&& response) override;
  void onReceiveMessage(ProcessingResponsePtr&& response);

private:
  Http::Http2::ClientConnectionImpl& grpc_connection_;
  uint32_t stream_id_;
  ExternalProcessorCallbacks& callbacks_;
  std::unique_ptr<Grpc::AsyncStreamImpl> raw_stream_;
  Grpc::AsyncStream<ProcessingRequest> stream_;
};

class FilterConfig {
public:
  explicit FilterConfig(Http::Http2::ClientConnectionImpl& grpc_connection)
      : grpc_connection_(grpc_connection) {}
  Http::Http2::ClientConnectionImpl& grpcConnection() const { return grpc_connection_; }
  uint32_t nextStreamId() { return next_stream_id_ += 2; }

private:
  Http::Http2::ClientConnectionImpl& grpc_connection_;
  uint32_t next_stream_id_ = 1;
};
using FilterConfigSharedPtr = std::shared_ptr<FilterConfig>;

// source/extensions/filters/http/ext_proc/processor_state.h
class ProcessorState {
public:
  enum class CallbackState { Idle, HeadersCallback, StreamedBodyCallback };
  explicit ProcessorState(bool request_path) : request_path_(request_path) {}
  envoy::service::ext_proc::v3::HttpBody* mutableBody(ProcessingRequest& request) const {
    return request_path_ ? request.mutable_request_body() : request.mutable_response_body();
  }
  void onStartProcessorCall(CallbackState state) { callback_state_ = state; }
  // FULL_DUPLEX_STREAMED: the data stays in Envoy until the server answers for it.
  void enqueueStreamingChunk(Buffer::Instance& data, bool end_stream);
  void releaseQueuedChunks(size_t count);
  bool requestPath() const { return request_path_; }

private:
  struct QueuedChunk {
    Buffer::OwnedImpl data;
    bool end_stream = false;
  };
  bool request_path_;
  CallbackState callback_state_ = CallbackState::Idle;
  std::list<std::unique_ptr<QueuedChunk>> chunk_queue_;
};

// source/extensions/filters/http/ext_proc/ext_proc.h
class Filter : public Http::StreamFilter, public ExternalProcessorCallbacks {
public:
  explicit Filter(const FilterConfigSharedPtr& config)
      : config_(config), decoding_state_(true), encoding_state_(false) {}
  ~Filter() override;

  Http::FilterHeadersStatus decodeHeaders(Http::RequestHeaderMap& headers, bool end_stream) override;
  Http::FilterDataStatus decodeData(Buffer::Instance& data, bool end_stream) override;
  Http::FilterDataStatus encodeData(Buffer::Instance& data, bool end_stream) override;
  void onDestroy() override;
  void onReceiveMessage(std::unique_ptr<ProcessingResponse>&& response) override;

private:
  void openStream();
  Http::FilterDataStatus onData(ProcessorState& state, Buffer::Instance& data, bool end_stream);
  ProcessingRequest setupBodyChunk(ProcessorState& state, const Buffer::Instance& data,
                                   bool end_stream);
  void sendBodyChunk(ProcessorState& state, ProcessorState::CallbackState new_state,
                     ProcessingRequest& req);
  void sendRequest(ProcessorState& state, ProcessingRequest&& req, bool end_stream);

  FilterConfigSharedPtr config_;
  ProcessorState decoding_state_;
  ProcessorState encoding_state_;
  std::unique_ptr<ExternalProcessorStreamImpl> stream_;
  ProcessingResponsePtr last_response_;
  Buffer::OwnedImpl mutated_body_;
  uint64_t stream_msgs_sent_ = 0;
};

class ExternalProcessingFilterConfig {
public:
  static Http::FilterFactoryCb
  createFilterFactoryFromProtoTyped(Http::Http2::ClientConnectionImpl& grpc_connection);
};

} // namespace ExternalProcessing

namespace Lua {
class LuaFilterConfig {
public:
  static Http::FilterFactoryCb createFilterFactoryFromProtoTyped(int worker_count);
};
} // namespace Lua

namespace Wasm {
class WasmFilterConfig {
public:
  static Http::FilterFactoryCb createFilterFactoryFromProtoTyped();
};
} // namespace Wasm

namespace RouterFilter {
class RouterFilterConfig {
public:
  static Http::FilterFactoryCb
  createFilterFactoryFromProtoTyped(std::vector<Http::CodecClient*>* upstreams);
};
} // namespace RouterFilter

} // namespace HttpFilters

namespace Filters {
namespace Common {
namespace Lua {

// source/extensions/filters/common/lua/lua.h
class Coroutine {
public:
  Coroutine(std::pair<lua_State*, lua_State*> new_thread_state, int thread_ref);
  void start(int function_ref, int num_args);
  lua_State* luaState() { return coroutine_state_; }
  int threadRef() const { return thread_ref_; }

private:
  lua_State* coroutine_state_;
  lua_State* main_thread_state_;
  int thread_ref_;
};
using CoroutinePtr = std::unique_ptr<Coroutine>;

class ThreadLocalState {
public:
  ThreadLocalState(const std::string& code, int worker_count);
  CoroutinePtr createCoroutine(int worker);
  // The registry reference of the script's envoy_on_request on that worker's state.
  int getGlobalRef(int worker) const { return workers_[worker]->global_ref_; }
  lua_State* state(int worker) { return workers_[worker]->state_; }

  struct LuaThreadLocal {
    explicit LuaThreadLocal(const std::string& code);
    ~LuaThreadLocal();
    lua_State* state_;
    int global_ref_;
  };

private:
  std::vector<std::unique_ptr<LuaThreadLocal>> workers_;
};

} // namespace Lua
} // namespace Common
} // namespace Filters

} // namespace Extensions

// ===================================================================================== Router
namespace Router {

class Filter;

class UpstreamRequest : public Http::ResponseDecoder {
public:
  UpstreamRequest(Filter& parent, const Http::RequestHeaderMap& request_headers,
                  Http::CodecClient& upstream);
  ~UpstreamRequest() override;
  void decodeData(Buffer::Instance& data, bool end_stream) override;

private:
  Filter& parent_;
  Http::RequestHeaderMapPtr upstream_headers_;
  Http::CodecClient& upstream_;
};

class Filter : public Http::StreamFilter {
public:
  explicit Filter(std::vector<Http::CodecClient*>* upstreams) : upstreams_(upstreams) {}
  Http::FilterHeadersStatus decodeHeaders(Http::RequestHeaderMap& headers, bool end_stream) override;
  void onUpstreamData(Buffer::Instance& data, UpstreamRequest& upstream_request, bool end_stream);

private:
  std::vector<Http::CodecClient*>* upstreams_;
  std::unique_ptr<UpstreamRequest> upstream_request_;
};

class ProdFilter : public Filter {
public:
  using Filter::Filter;
};

} // namespace Router

} // namespace Envoy

// Lua and WASM filter pieces the rest of mini-envoy sees.
namespace Envoy {
namespace Extensions {
namespace Common {
namespace Wasm {
class Wasm;
// Creates the VM and loads the plugin (source/extensions/common/wasm/wasm.cc).
bool createWasm(const std::string& code);
} // namespace Wasm
} // namespace Common
} // namespace Extensions
} // namespace Envoy

// mini-envoy's own server-wide state (the stand-ins for Envoy's ServerFactoryContext).
namespace mini_envoy {
Envoy::Stats::ThreadLocalStoreImpl& stats();
Envoy::Extensions::Filters::Common::Lua::ThreadLocalState& luaState();
} // namespace mini_envoy
