// Buffers, sockets, protobuf serialization and the gRPC client: the layers the ext_proc incident's
// memory went through.
//
//   Filter::sendBodyChunk -> ExternalProcessorStreamImpl::send -> Grpc::AsyncStream::sendMessage
//     -> Grpc::Internal::sendMessageUntyped -> Grpc::Common::serializeMessage
//     -> Buffer::OwnedImpl::reserveSingleSlice -> Buffer::Slice::Slice -> Buffer::Slice::newStorage
//
// and then Grpc::AsyncStreamImpl::sendMessageRaw -> Common::prependGrpcFrameHeader (a slice of its
// own for 5 bytes) -> Http::AsyncStreamImpl::sendData -> Http2 StreamImpl::encodeData, where the
// frame waits in pending_send_data_ until the ext_proc server opens its flow-control window.
#include <arpa/inet.h>

#include <array>

#include "envoy.h"

using mini_envoy::Path;
using mini_envoy::ScopedPath;

namespace Envoy {
namespace Buffer {

ENVOY_NOINLINE Slice::StoragePtr Slice::newStorage(uint64_t capacity) {
  ScopedPath path(Path::BufferSliceNewStorage);
  return StoragePtr(new uint8_t[capacity]);
}

ENVOY_NOINLINE void SliceDeque::growRing() {
  ScopedPath path(Path::BufferSliceDequeGrowRing);
  const size_t new_capacity = capacity_ * 2;
  auto new_ring = std::make_unique<Slice[]>(new_capacity);
  for (size_t i = 0; i < size_; i++) {
    new_ring[i] = std::move(ring_[internalIndex(i)]);
  }
  external_ring_ = std::move(new_ring);
  ring_ = external_ring_.get();
  start_ = 0;
  capacity_ = new_capacity;
}

ENVOY_NOINLINE void OwnedImpl::add(const void* data, uint64_t size) {
  const uint8_t* src = static_cast<const uint8_t*>(data);
  while (size > 0) {
    if (slices_.empty() || slices_.back().reservableSize() == 0) {
      slices_.emplace_back(Slice(size));
    }
    const uint64_t copied = slices_.back().append(src, size);
    src += copied;
    size -= copied;
    length_ += copied;
  }
}

ENVOY_NOINLINE void OwnedImpl::prepend(std::string_view data) {
  uint64_t size = data.size();
  bool new_slice_needed = slices_.empty();
  while (size != 0) {
    if (new_slice_needed) {
      slices_.emplace_front(Slice(size));
    }
    const uint64_t copied = slices_.front().prepend(data.data(), size);
    size -= copied;
    length_ += copied;
    data.remove_suffix(copied);
    new_slice_needed = true;
  }
}

ENVOY_NOINLINE void OwnedImpl::move(Instance& rhs) {
  auto& other = static_cast<OwnedImpl&>(rhs);
  while (!other.slices_.empty()) {
    const uint64_t size = other.slices_.front().dataSize();
    slices_.emplace_back(std::move(other.slices_.front()));
    other.slices_.pop_front();
    length_ += size;
    other.length_ -= size;
  }
}

void OwnedImpl::drain(uint64_t size) {
  while (size > 0 && !slices_.empty()) {
    Slice& front = slices_.front();
    const uint64_t n = size < front.dataSize() ? size : front.dataSize();
    front.drain(n);
    size -= n;
    length_ -= n;
    if (front.dataSize() == 0) {
      slices_.pop_front();
    }
  }
}

ENVOY_NOINLINE std::string OwnedImpl::toString() const {
  std::string output(length_, '\0');
  auto& self = const_cast<OwnedImpl&>(*this);
  size_t offset = 0;
  for (size_t i = 0; i < self.slices_.size(); i++) {
    Slice& slice = self.slices_[i];
    memcpy(&output[offset], slice.data(), slice.dataSize());
    offset += slice.dataSize();
  }
  return output;
}

ENVOY_NOINLINE RawSlice OwnedImpl::reserveSingleSlice(uint64_t length) {
  if (slices_.empty() || slices_.back().reservableSize() < length) {
    slices_.emplace_back(Slice(length));
  }
  return slices_.back().reserve(length);
}

ENVOY_NOINLINE void OwnedImpl::reserveForRead(uint64_t length) {
  uint64_t reserved = 0;
  while (reserved < length) {
    slices_.emplace_back(Slice(Slice::default_slice_size_));
    reserved += Slice::default_slice_size_;
  }
}

void OwnedImpl::commitRead(uint64_t length, uint8_t pattern) {
  // The reserved slices are the ones with room left.
  for (size_t i = 0; i < slices_.size() && length > 0; i++) {
    Slice& slice = slices_[i];
    if (slice.reservableSize() == 0) {
      continue;
    }
    RawSlice room = slice.reserve(length);
    memset(room.mem_, pattern, room.len_);
    slice.commit(room.len_);
    length_ += room.len_;
    length -= room.len_;
  }
  // reserveForRead reserved whole default-size slices for exactly this read, so none is left
  // unused (Envoy reserves more and returns the rest to its free list).
}

size_t OwnedImpl::getRawSlices(RawSlice* out, size_t max) {
  size_t n = 0;
  for (size_t i = 0; i < slices_.size() && n < max; i++) {
    if (slices_[i].dataSize() > 0) {
      out[n++] = RawSlice{slices_[i].data(), slices_[i].dataSize()};
    }
  }
  return n;
}

} // namespace Buffer

// ================================================================================== Network
namespace Network {

ENVOY_NOINLINE uint64_t IoSocketHandleImpl::read(Buffer::OwnedImpl& buffer, uint64_t length) {
  ScopedPath path(Path::SocketRead);
  buffer.reserveForRead(length);
  buffer.commitRead(length, 0x6d); // 'm'
  return length;
}

ENVOY_NOINLINE void ConnectionImpl::onFileEvent(uint32_t events) {
  if (events & 0x1) { // Event::FileReadyType::Read
    onReadReady();
  }
}

ENVOY_NOINLINE void ConnectionImpl::onReadReady() {
  const Http::Wire wire = pending_wire_[next_wire_++];
  io_handle_.read(read_buffer_, wire.bytes);
  read_filter_.onData(read_buffer_, wire);
  read_buffer_.drain(read_buffer_.length());
}

} // namespace Network

// ======================================================================================= Grpc
namespace Grpc {

ENVOY_NOINLINE Buffer::InstancePtr Common::serializeMessage(const Protobuf::Message& message) {
  ScopedPath path(Path::GrpcSerializeMessage);
  auto body = std::make_unique<Buffer::OwnedImpl>();
  const uint32_t size = message.ByteSize();
  Buffer::RawSlice reservation = body->reserveSingleSlice(size);
  uint8_t* current = static_cast<uint8_t*>(reservation.mem_);
  message.SerializeWithCachedSizesToArray(current);
  body->commit(size);
  return body;
}

ENVOY_NOINLINE void Common::prependGrpcFrameHeader(Buffer::Instance& buffer) {
  ScopedPath path(Path::GrpcPrependFrameHeader);
  std::array<char, 5> header;
  header[0] = 0; // flags
  const uint32_t nsize = htonl(static_cast<uint32_t>(buffer.length()));
  memcpy(&header[1], &nsize, sizeof(uint32_t));
  buffer.prepend(std::string_view(header.data(), header.size()));
}

namespace Internal {

ENVOY_NOINLINE void sendMessageUntyped(RawAsyncStream* stream, const Protobuf::Message& request,
                                       bool end_stream) {
  stream->sendMessageRaw(Common::serializeMessage(request), end_stream);
}

ENVOY_NOINLINE std::unique_ptr<Protobuf::Message>
parseMessageUntyped(std::unique_ptr<Protobuf::Message>&& message, Buffer::InstancePtr&& response) {
  if (!message->ParseFromString(response->toString())) {
    return nullptr;
  }
  return std::move(message);
}

} // namespace Internal

AsyncStreamImpl::AsyncStreamImpl(Http::Http2::ConnectionImpl::ClientStreamImpl& stream,
                                 RawAsyncStreamCallbacks& callbacks)
    : http_stream_(stream, *this), callbacks_(callbacks) {}

ENVOY_NOINLINE void AsyncStreamImpl::sendMessageRaw(Buffer::InstancePtr&& request, bool end_stream) {
  Common::prependGrpcFrameHeader(*request);
  http_stream_.sendData(*request, end_stream);
}

ENVOY_NOINLINE void AsyncStreamImpl::onData(Buffer::Instance& data, bool end_stream) {
  (void)end_stream;
  data.drain(5); // the gRPC frame header
  auto message = std::make_unique<Buffer::OwnedImpl>();
  message->move(data);
  callbacks_.onReceiveMessageRaw(std::move(message));
}

} // namespace Grpc

namespace Http {

ENVOY_NOINLINE void AsyncStreamImpl::sendData(Buffer::Instance& data, bool end_stream) {
  stream_.encodeData(data, end_stream);
}

} // namespace Http
} // namespace Envoy

// =========================================================================== ext_proc protos
namespace envoy {
namespace service {
namespace ext_proc {
namespace v3 {

namespace {
using google::protobuf::io::VarintSize64;
using google::protobuf::io::WriteVarint64ToArray;

size_t lengthDelimitedSize(size_t payload) { return 1 + VarintSize64(payload) + payload; }

uint8_t* writeLengthDelimited(uint32_t field, const void* data, size_t size, uint8_t* target) {
  *target++ = static_cast<uint8_t>((field << 3) | 2);
  target = WriteVarint64ToArray(size, target);
  memcpy(target, data, size);
  return target + size;
}

uint8_t* writeMessage(uint32_t field, const google::protobuf::Message& m, uint8_t* target) {
  *target++ = static_cast<uint8_t>((field << 3) | 2);
  target = WriteVarint64ToArray(m.ByteSizeLong(), target);
  return m.SerializeWithCachedSizesToArray(target);
}
} // namespace

size_t HttpBody::ByteSizeLong() const {
  return (body_.empty() ? 0 : lengthDelimitedSize(body_.size())) + (end_of_stream_ ? 2 : 0);
}

uint8_t* HttpBody::SerializeWithCachedSizesToArray(uint8_t* target) const {
  if (!body_.empty()) {
    target = writeLengthDelimited(1, body_.data(), body_.size(), target);
  }
  if (end_of_stream_) {
    *target++ = (2 << 3) | 0;
    *target++ = 1;
  }
  return target;
}

// HttpHeaders { HeaderMap headers = 1 { repeated HeaderValue headers = 1 { key = 1; raw_value = 3 } } }
size_t HttpHeaders::ByteSizeLong() const {
  size_t map = 0;
  for (const auto& [key, value] : headers_) {
    map += lengthDelimitedSize(lengthDelimitedSize(key.size()) + lengthDelimitedSize(value.size()));
  }
  return lengthDelimitedSize(map);
}

uint8_t* HttpHeaders::SerializeWithCachedSizesToArray(uint8_t* target) const {
  size_t map = 0;
  for (const auto& [key, value] : headers_) {
    map += lengthDelimitedSize(lengthDelimitedSize(key.size()) + lengthDelimitedSize(value.size()));
  }
  *target++ = (1 << 3) | 2;
  target = WriteVarint64ToArray(map, target);
  for (const auto& [key, value] : headers_) {
    *target++ = (1 << 3) | 2;
    target = WriteVarint64ToArray(lengthDelimitedSize(key.size()) + lengthDelimitedSize(value.size()),
                                  target);
    target = writeLengthDelimited(1, key.data(), key.size(), target);
    target = writeLengthDelimited(3, value.data(), value.size(), target);
  }
  return target;
}

size_t ProcessingRequest::ByteSizeLong() const {
  size_t size = 0;
  if (request_headers_ != nullptr) {
    size += lengthDelimitedSize(request_headers_->ByteSizeLong());
  }
  if (request_body_ != nullptr) {
    size += lengthDelimitedSize(request_body_->ByteSizeLong());
  }
  if (response_body_ != nullptr) {
    size += lengthDelimitedSize(response_body_->ByteSizeLong());
  }
  return size;
}

uint8_t* ProcessingRequest::SerializeWithCachedSizesToArray(uint8_t* target) const {
  if (request_headers_ != nullptr) {
    target = writeMessage(2, *request_headers_, target);
  }
  if (request_body_ != nullptr) {
    target = writeMessage(4, *request_body_, target);
  }
  if (response_body_ != nullptr) {
    target = writeMessage(5, *response_body_, target);
  }
  return target;
}

} // namespace v3
} // namespace ext_proc
} // namespace service
} // namespace envoy
