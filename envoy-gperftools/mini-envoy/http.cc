// The HTTP layers: header maps, the HTTP/1 and HTTP/2 codecs, the connection manager and its
// filter manager, the router and the upstream codec client.
//
// Request path:  Network::ConnectionImpl::onReadReady -> Http::ConnectionManagerImpl::onData
//   -> Http2::ServerConnectionImpl::dispatch (or Http1::ConnectionImpl::dispatch)
//   -> Http2::ServerConnectionImpl::onFrameReceived -> ConnectionManagerImpl::ActiveStream::decodeData
//   -> Http::FilterManager::decodeData -> <filter>::decodeData
// Response path: Network::ConnectionImpl::onReadReady -> Http::CodecClient::onData
//   -> Http1::ConnectionImpl::dispatch -> Http1::ClientConnectionImpl::onBody
//   -> Router::UpstreamRequest::decodeData -> Router::Filter::onUpstreamData
//   -> Http::FilterManager::encodeData -> <filter>::encodeData
#include "envoy.h"

using mini_envoy::Path;
using mini_envoy::ScopedPath;

namespace mini_envoy {

// The request headers mini-envoy's clients send: fixed, a few of them long enough to leave
// std::string's inline buffer once copied into a header map.
constexpr std::pair<std::string_view, std::string_view> kRequestHeaders[] = {
    {":method", "POST"},
    {":scheme", "http"},
    {":authority", "127.0.0.1:10000"},
    {":path", "/upload/big-buck-bunny-1080p.mp4"},
    {"content-type", "video/mp4"},
    {"user-agent", "mini-envoy-load/1.0 (ext_proc FULL_DUPLEX_STREAMED)"},
    {"x-request-id", "6f1c2a9e-5b7d-4c3e-9a81-2d4f6b8e0c17"},
    {"x-forwarded-for", "127.0.0.1"},
    {"x-mini-envoy-trace",
     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01;sampled=1;"
     "baggage=tenant.video-upload,region.loopback,tier.gold,experiment.full-duplex-streamed"},
};

} // namespace mini_envoy

namespace Envoy {
namespace Http {

// ================================================================================ HeaderMap
ENVOY_NOINLINE void HeaderMapImpl::addCopy(const LowerCaseString& key, std::string_view value) {
  ScopedPath path(Path::HeaderMapAddCopy);
  insertByKey(HeaderString(key.get()), HeaderString(value));
}

// ============================================================================ FilterManager
ENVOY_NOINLINE void FilterManager::createFilterChain() {
  ScopedPath path(Path::FilterChain);
  filters_.reserve(factories_.size());
  for (const FilterFactoryCb& factory : factories_) {
    factory(*this);
  }
}

ENVOY_NOINLINE void FilterManager::decodeHeaders(RequestHeaderMap& headers, bool end_stream) {
  for (auto& filter : filters_) {
    if (filter->decodeHeaders(headers, end_stream) == FilterHeadersStatus::StopIteration) {
      return;
    }
  }
}

ENVOY_NOINLINE void FilterManager::decodeData(Buffer::Instance& data, bool end_stream) {
  for (auto& filter : filters_) {
    if (filter->decodeData(data, end_stream) == FilterDataStatus::StopIterationNoBuffer) {
      return;
    }
  }
}

ENVOY_NOINLINE void FilterManager::encodeData(Buffer::Instance& data, bool end_stream) {
  for (auto it = filters_.rbegin(); it != filters_.rend(); ++it) {
    if ((*it)->encodeData(data, end_stream) == FilterDataStatus::StopIterationNoBuffer) {
      return;
    }
  }
}

ENVOY_NOINLINE void FilterManager::onStreamComplete() {
  for (auto& filter : filters_) {
    filter->onDestroy();
  }
  filters_.clear();
}

// ==================================================================== ConnectionManagerImpl
ConnectionManagerImpl::ConnectionManagerImpl(bool http2, const std::vector<FilterFactoryCb>& factories)
    : factories_(factories) {
  if (http2) {
    codec_ = std::make_unique<Http2::ServerConnectionImpl>(*this);
  } else {
    codec_ = std::make_unique<Http1::ServerConnectionImpl>(*this);
  }
}

ConnectionManagerImpl::~ConnectionManagerImpl() = default;

ENVOY_NOINLINE void ConnectionManagerImpl::onData(Buffer::Instance& data, const Wire& wire) {
  codec_->dispatch(data, wire);
}

ENVOY_NOINLINE RequestDecoder& ConnectionManagerImpl::newStream(uint32_t stream_id) {
  ScopedPath path(Path::HcmNewStream);
  auto stream = std::make_unique<ActiveStream>(*this, stream_id);
  ActiveStream& ref = *stream;
  streams_.emplace(stream_id, std::move(stream));
  return ref;
}

ENVOY_NOINLINE void ConnectionManagerImpl::doEndStream(uint32_t stream_id) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) {
    return;
  }
  it->second->filter_manager_.onStreamComplete();
  codec_->removeStream(stream_id);
  streams_.erase(it);
  // Http::CodeStatsImpl::chargeResponseStat: the first 2xx creates the counter.
  mini_envoy::stats().rootScope().counterFromStatNameWithTags("http.ingress.downstream_rq_2xx").inc();
  mini_envoy::stats()
      .rootScope()
      .counterFromStatNameWithTags("http.ingress.downstream_rq_completed")
      .inc();
}

ENVOY_NOINLINE void ConnectionManagerImpl::ActiveStream::decodeHeaders(RequestHeaderMapPtr&& headers,
                                                                      bool end_stream) {
  request_headers_ = std::move(headers);
  filter_manager_.createFilterChain();
  filter_manager_.decodeHeaders(*request_headers_, end_stream);
}

ENVOY_NOINLINE void ConnectionManagerImpl::ActiveStream::decodeData(Buffer::Instance& data,
                                                                   bool end_stream) {
  filter_manager_.decodeData(data, end_stream);
}

// ==================================================================================== HTTP/2
namespace Http2 {

ENVOY_NOINLINE void ConnectionImpl::onData(int32_t stream_id, const uint8_t* data, size_t len) {
  ScopedPath path(Path::Http2OnData);
  StreamImpl* stream = getStream(stream_id);
  stream->pending_recv_data_.add(data, len);
}

void ConnectionImpl::onHeader(StreamImpl& stream, std::string_view name, std::string_view value) {
  stream.headers_->addCopy(LowerCaseString(name), value);
}

ENVOY_NOINLINE void ConnectionImpl::StreamImpl::encodeData(Buffer::Instance& data, bool end_stream) {
  (void)end_stream;
  // The peer's flow-control window is closed: everything waits here (the incident's state).
  pending_send_data_.move(data);
}

ENVOY_NOINLINE void ConnectionImpl::StreamImpl::onDataSourceSend(uint64_t length) {
  pending_send_data_.drain(length);
}

ENVOY_NOINLINE int ServerConnectionImpl::onBeginHeaders(int32_t stream_id) {
  ScopedPath path(Path::Http2OnBeginHeaders);
  auto stream = std::make_unique<ServerStreamImpl>();
  stream->stream_id_ = stream_id;
  stream->headers_ = RequestHeaderMapImpl::create();
  stream->request_decoder_ = &callbacks_.newStream(stream_id);
  streams_.emplace(stream_id, std::move(stream));
  return 0;
}

ConnectionImpl::StreamImpl* ServerConnectionImpl::getStream(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

ENVOY_NOINLINE void ServerConnectionImpl::dispatch(Buffer::Instance& data, const Wire& wire) {
  switch (wire.kind) {
  case Wire::Kind::Headers: {
    onBeginHeaders(wire.stream_id);
    StreamImpl* stream = getStream(wire.stream_id);
    for (const auto& [name, value] : mini_envoy::kRequestHeaders) {
      onHeader(*stream, name, value);
    }
    break;
  }
  case Wire::Kind::Data: {
    // nghttp2 hands over the DATA payload where it lies in the read buffer.
    Buffer::RawSlice slices[16];
    const size_t n = static_cast<Buffer::OwnedImpl&>(data).getRawSlices(slices, 16);
    for (size_t i = 0; i < n; i++) {
      onData(wire.stream_id, static_cast<const uint8_t*>(slices[i].mem_), slices[i].len_);
    }
    break;
  }
  case Wire::Kind::WindowUpdate:
    break;
  case Wire::Kind::Reset:
    callbacks_.onStreamReset(wire.stream_id);
    return;
  }
  data.drain(data.length());
  onFrameReceived(wire);
}

ENVOY_NOINLINE void ServerConnectionImpl::onFrameReceived(const Wire& wire) {
  auto* stream = static_cast<ServerStreamImpl*>(getStream(wire.stream_id));
  if (wire.kind == Wire::Kind::Headers) {
    stream->request_decoder_->decodeHeaders(std::move(stream->headers_), wire.end_stream);
  } else if (wire.kind == Wire::Kind::Data) {
    stream->request_decoder_->decodeData(stream->pending_recv_data_, wire.end_stream);
  }
}

ConnectionImpl::ClientStreamImpl& ClientConnectionImpl::newStream(uint32_t stream_id) {
  auto stream = std::make_unique<ClientStreamImpl>();
  stream->stream_id_ = stream_id;
  ClientStreamImpl& ref = *stream;
  streams_.emplace(stream_id, std::move(stream));
  stream_order_.push_back(stream_id);
  return ref;
}

ConnectionImpl::StreamImpl* ClientConnectionImpl::getStream(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

ENVOY_NOINLINE void ClientConnectionImpl::dispatch(Buffer::Instance& data, const Wire& wire) {
  if (wire.kind == Wire::Kind::Data) {
    Buffer::RawSlice slices[16];
    const size_t n = static_cast<Buffer::OwnedImpl&>(data).getRawSlices(slices, 16);
    for (size_t i = 0; i < n; i++) {
      onData(wire.stream_id, static_cast<const uint8_t*>(slices[i].mem_), slices[i].len_);
    }
  }
  data.drain(data.length());
  onFrameReceived(wire);
}

ENVOY_NOINLINE void ClientConnectionImpl::onFrameReceived(const Wire& wire) {
  auto* stream = static_cast<ClientStreamImpl*>(getStream(wire.stream_id));
  if (stream == nullptr) {
    return;
  }
  if (wire.kind == Wire::Kind::Data) {
    stream->response_decoder_->decodeData(stream->pending_recv_data_, wire.end_stream);
  } else if (wire.kind == Wire::Kind::WindowUpdate) {
    // WINDOW_UPDATE for one stream: nghttp2 pulls that much of its pending data.
    stream->onDataSourceSend(wire.end_stream ? stream->pendingSendLength() : wire.bytes);
  }
}

} // namespace Http2

// ==================================================================================== HTTP/1
namespace Http1 {

ENVOY_NOINLINE void ConnectionImpl::dispatch(Buffer::Instance& data, const Wire& wire) {
  switch (wire.kind) {
  case Wire::Kind::Headers:
    onMessageBeginImpl();
    for (const auto& [name, value] : mini_envoy::kRequestHeaders) {
      completeCurrentHeader(name, value);
    }
    data.drain(data.length());
    onHeadersCompleteBase();
    break;
  case Wire::Kind::Data:
    bufferBody(data, wire.bytes);
    dispatchBufferedBody(wire.end_stream);
    break;
  case Wire::Kind::WindowUpdate:
    data.drain(data.length());
    break;
  case Wire::Kind::Reset:
    data.drain(data.length());
    onResetStream();
    break;
  }
}

ENVOY_NOINLINE void ConnectionImpl::bufferBody(Buffer::Instance& data, size_t length) {
  // The body is the whole dispatching buffer: move its slices instead of copying (Envoy does
  // this when the body is exactly the front slice).
  (void)length;
  buffered_body_.move(data);
}

ENVOY_NOINLINE void ConnectionImpl::dispatchBufferedBody(bool end_stream) {
  if (buffered_body_.length() > 0) {
    onBody(buffered_body_, end_stream);
    buffered_body_.drain(buffered_body_.length());
  }
}

ENVOY_NOINLINE void ConnectionImpl::completeCurrentHeader(std::string_view name,
                                                          std::string_view value) {
  headersOrTrailers()->addCopy(LowerCaseString(name), value);
}

ENVOY_NOINLINE void ServerConnectionImpl::onMessageBeginImpl() {
  ScopedPath path(Path::Http1OnMessageBegin);
  active_request_ = std::make_unique<ActiveRequest>();
  active_request_->request_decoder_ = &callbacks_.newStream(1);
  active_request_->headers_ = RequestHeaderMapImpl::create();
}

ENVOY_NOINLINE void ServerConnectionImpl::onHeadersCompleteBase() {
  active_request_->request_decoder_->decodeHeaders(std::move(active_request_->headers_), false);
}

ENVOY_NOINLINE void ServerConnectionImpl::onBody(Buffer::Instance& data, bool end_stream) {
  active_request_->request_decoder_->decodeData(data, end_stream);
}

ENVOY_NOINLINE void ClientConnectionImpl::onBody(Buffer::Instance& data, bool end_stream) {
  response_decoder_->decodeData(data, end_stream);
}

} // namespace Http1

// ============================================================================== CodecClient
CodecClient::CodecClient(bool http2) {
  if (http2) {
    http2_ = std::make_unique<Http2::ClientConnectionImpl>();
  } else {
    http1_ = std::make_unique<Http1::ClientConnectionImpl>();
  }
}

ENVOY_NOINLINE void CodecClient::onData(Buffer::Instance& data, const Wire& wire) {
  if (http1_) {
    http1_->dispatch(data, wire);
  } else {
    http2_->dispatch(data, wire);
  }
}

} // namespace Http

// ==================================================================================== Router
namespace Router {

ENVOY_NOINLINE UpstreamRequest::UpstreamRequest(Filter& parent,
                                                const Http::RequestHeaderMap& request_headers,
                                                Http::CodecClient& upstream)
    : parent_(parent), upstream_headers_(Http::RequestHeaderMapImpl::create()), upstream_(upstream) {
  request_headers.iterate([this](std::string_view key, std::string_view value) {
    upstream_headers_->addCopy(Http::LowerCaseString(key), value);
  });
  upstream_.http1()->setResponseDecoder(this);
}

UpstreamRequest::~UpstreamRequest() { upstream_.http1()->setResponseDecoder(nullptr); }

ENVOY_NOINLINE void UpstreamRequest::decodeData(Buffer::Instance& data, bool end_stream) {
  parent_.onUpstreamData(data, *this, end_stream);
}

ENVOY_NOINLINE Http::FilterHeadersStatus Filter::decodeHeaders(Http::RequestHeaderMap& headers,
                                                               bool end_stream) {
  ScopedPath path(Path::RouterDecodeHeaders);
  (void)end_stream;
  // Cluster "backend": one upstream connection per stream, in arrival order.
  static size_t next_upstream = 0;
  Http::CodecClient& upstream = *(*upstreams_)[next_upstream++ % upstreams_->size()];
  upstream_request_ = std::make_unique<UpstreamRequest>(*this, headers, upstream);
  return Http::FilterHeadersStatus::Continue;
}

ENVOY_NOINLINE void Filter::onUpstreamData(Buffer::Instance& data, UpstreamRequest& upstream_request,
                                           bool end_stream) {
  (void)upstream_request;
  callbacks_->encodeData(data, end_stream);
}

} // namespace Router
} // namespace Envoy
