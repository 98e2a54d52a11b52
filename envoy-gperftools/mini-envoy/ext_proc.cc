// The ext_proc filter in FULL_DUPLEX_STREAMED mode (source/extensions/filters/http/ext_proc/), the
// path of envoyproxy/envoy issue 39514: every body chunk, in both directions, is
//   1. serialized into a gRPC frame for the ext_proc server (Filter::sendBodyChunk ->
//      Grpc::Common::serializeMessage -> Buffer::Slice::newStorage), which waits in the HTTP/2
//      stream's pending_send_data_ while the server's window is closed, and
//   2. kept in ProcessorState's chunk queue until the server answers for it.
#include "envoy.h"

using mini_envoy::Path;
using mini_envoy::ScopedPath;

namespace Envoy {
namespace Extensions {
namespace HttpFilters {
namespace ExternalProcessing {

// ============================================================== ExternalProcessorStreamImpl
ExternalProcessorStreamImpl::ExternalProcessorStreamImpl(
    Http::Http2::ClientConnectionImpl& grpc_connection, uint32_t stream_id,
    ExternalProcessorCallbacks& callbacks)
    : grpc_connection_(grpc_connection), stream_id_(stream_id), callbacks_(callbacks) {
  Http::Http2::ConnectionImpl::ClientStreamImpl& h2_stream = grpc_connection_.newStream(stream_id);
  raw_stream_ = std::make_unique<Grpc::AsyncStreamImpl>(h2_stream, *this);
  stream_ = Grpc::AsyncStream<ProcessingRequest>(raw_stream_.get());
}

ExternalProcessorStreamImpl::~ExternalProcessorStreamImpl() {
  raw_stream_.reset();
  grpc_connection_.removeStream(stream_id_);
}

ENVOY_NOINLINE void ExternalProcessorStreamImpl::send(ProcessingRequest&& request, bool end_stream) {
  stream_.sendMessage(request, end_stream);
}

// Grpc::AsyncStreamCallbacks<ProcessingResponse>::onReceiveMessageRaw (typed_async_client.h).
ENVOY_NOINLINE bool ExternalProcessorStreamImpl::onReceiveMessageRaw(Buffer::InstancePtr&& response) {
  auto message = Grpc::Internal::parseMessageUntyped(
      std::unique_ptr<Protobuf::Message>(
          google::protobuf::Arena::CreateMaybeMessage<ProcessingResponse>(nullptr)),
      std::move(response));
  if (message == nullptr) {
    return false;
  }
  onReceiveMessage(ProcessingResponsePtr(static_cast<ProcessingResponse*>(message.release())));
  return true;
}

ENVOY_NOINLINE void ExternalProcessorStreamImpl::onReceiveMessage(ProcessingResponsePtr&& response) {
  callbacks_.onReceiveMessage(std::move(response));
}

// =========================================================================== ProcessorState
ENVOY_NOINLINE void ProcessorState::enqueueStreamingChunk(Buffer::Instance& data, bool end_stream) {
  auto chunk = std::make_unique<QueuedChunk>();
  chunk->data.move(data);
  chunk->end_stream = end_stream;
  chunk_queue_.push_back(std::move(chunk));
}

void ProcessorState::releaseQueuedChunks(size_t count) {
  while (count-- > 0 && !chunk_queue_.empty()) {
    chunk_queue_.pop_front();
  }
}

// =================================================================================== Filter
Filter::~Filter() = default;

void Filter::openStream() {
  if (stream_ == nullptr) {
    stream_ = std::make_unique<ExternalProcessorStreamImpl>(config_->grpcConnection(),
                                                            config_->nextStreamId(), *this);
  }
}

ENVOY_NOINLINE Http::FilterHeadersStatus Filter::decodeHeaders(Http::RequestHeaderMap& headers,
                                                               bool end_stream) {
  ScopedPath path(Path::ExtProcDecodeHeaders);
  openStream();
  ProcessingRequest req;
  auto* headers_req = req.mutable_request_headers();
  headers.iterate([headers_req](std::string_view key, std::string_view value) {
    headers_req->add_header(key, value);
  });
  decoding_state_.onStartProcessorCall(ProcessorState::CallbackState::HeadersCallback);
  sendRequest(decoding_state_, std::move(req), end_stream);
  // FULL_DUPLEX_STREAMED with observability of the headers: the router proceeds meanwhile.
  return Http::FilterHeadersStatus::Continue;
}

ENVOY_NOINLINE Http::FilterDataStatus Filter::decodeData(Buffer::Instance& data, bool end_stream) {
  ScopedPath path(Path::ExtProcDecodeData);
  return onData(decoding_state_, data, end_stream);
}

ENVOY_NOINLINE Http::FilterDataStatus Filter::encodeData(Buffer::Instance& data, bool end_stream) {
  ScopedPath path(Path::ExtProcEncodeData);
  return onData(encoding_state_, data, end_stream);
}

ENVOY_NOINLINE Http::FilterDataStatus Filter::onData(ProcessorState& state, Buffer::Instance& data,
                                                     bool end_stream) {
  // ProcessingMode::FULL_DUPLEX_STREAMED
  ProcessingRequest req = setupBodyChunk(state, data, end_stream);
  sendBodyChunk(state, ProcessorState::CallbackState::StreamedBodyCallback, req);
  state.enqueueStreamingChunk(data, end_stream);
  return Http::FilterDataStatus::StopIterationNoBuffer;
}

ProcessingRequest Filter::setupBodyChunk(ProcessorState& state, const Buffer::Instance& data,
                                         bool end_stream) {
  ProcessingRequest req;
  auto* body_req = state.mutableBody(req);
  body_req->set_end_of_stream(end_stream);
  body_req->set_body(data.toString());
  return req;
}

ENVOY_NOINLINE void Filter::sendBodyChunk(ProcessorState& state,
                                          ProcessorState::CallbackState new_state,
                                          ProcessingRequest& req) {
  ScopedPath path(Path::ExtProcSendBodyChunk);
  state.onStartProcessorCall(new_state);
  sendRequest(state, std::move(req), false);
  stream_msgs_sent_++;
}

void Filter::sendRequest(ProcessorState& state, ProcessingRequest&& req, bool end_stream) {
  (void)state;
  stream_->send(std::move(req), end_stream);
}

ENVOY_NOINLINE void Filter::onReceiveMessage(std::unique_ptr<ProcessingResponse>&& response) {
  ScopedPath path(Path::ExtProcOnReceiveMessage);
  // A streamed body response: the server's (mutated) chunk replaces the oldest queued one and
  // goes on towards the upstream, whose connection is backed up, so it stays here meanwhile.
  decoding_state_.releaseQueuedChunks(1);
  const std::string& mutation = response->body_mutation();
  mutated_body_.add(mutation.data(), mutation.size());
  last_response_ = std::move(response);
}

ENVOY_NOINLINE void Filter::onDestroy() { stream_.reset(); }

// ========================================================================== filter factory
Http::FilterFactoryCb ExternalProcessingFilterConfig::createFilterFactoryFromProtoTyped(
    Http::Http2::ClientConnectionImpl& grpc_connection) {
  auto filter_config = std::make_shared<FilterConfig>(grpc_connection);
  return [filter_config](Http::FilterChainFactoryCallbacks& callbacks) {
    callbacks.addStreamFilter(Http::StreamFilterSharedPtr{new Filter(filter_config)});
  };
}

} // namespace ExternalProcessing
} // namespace HttpFilters
} // namespace Extensions
} // namespace Envoy
