#include "server/rpc/dataset_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "server/rpc/authenticated_call.h"
#include "server/security/bearer_tokens.h"

namespace descent::server {
namespace {

using ::absl::StrCat;

absl::Status TooLarge(int64_t bytes, int64_t max_bytes) {
  return absl::ResourceExhaustedError(
      StrCat("the upload is ", bytes, " bytes or more; this server takes datasets of at most ",
             max_bytes, " bytes (descentd --max-dataset-bytes)"));
}

absl::Status NoStore() {
  return absl::FailedPreconditionError(
      "this server stores no datasets: start descentd with a writable --data-dir");
}

absl::Status CheckReference(const std::string& reference) {
  if (reference.empty()) {
    return absl::InvalidArgumentError("dataset must be set: a dataset id or name");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ReceivedUpload> ReceiveUpload(
    const std::function<bool(v1::UploadDatasetRequest*)>& read, int64_t max_bytes) {
  ReceivedUpload upload;
  v1::UploadDatasetRequest message;
  if (!read(&message) || !message.has_header()) {
    return absl::InvalidArgumentError(
        "header must come first: send an UploadDatasetRequest with header (the name) before "
        "the chunks");
  }
  upload.header = message.header();
  const int64_t announced = upload.header.size_bytes();
  if (announced < 0) {
    return absl::InvalidArgumentError(
        StrCat("header.size_bytes must be >= 0 (got ", announced, "); 0 = not announced"));
  }
  if (announced > max_bytes) return TooLarge(announced, max_bytes);
  if (announced > 0) upload.bytes.reserve(announced);
  while (read(&message)) {
    if (message.has_header()) {
      return absl::InvalidArgumentError("header must be sent once, in the first message only");
    }
    // Checked per chunk, before it is kept: an oversized upload is refused mid-stream.
    if (static_cast<int64_t>(upload.bytes.size() + message.chunk().size()) > max_bytes) {
      return TooLarge(static_cast<int64_t>(upload.bytes.size() + message.chunk().size()),
                      max_bytes);
    }
    upload.bytes.append(message.chunk());
  }
  if (upload.bytes.empty()) {
    return absl::InvalidArgumentError("the upload holds no bytes: send the file in chunks");
  }
  if (announced > 0 && static_cast<int64_t>(upload.bytes.size()) != announced) {
    return absl::InvalidArgumentError(StrCat("header.size_bytes announced ", announced,
                                             " bytes but ", upload.bytes.size(),
                                             " arrived; send the whole file again"));
  }
  return upload;
}

absl::Status CheckNoActiveJobUses(const JobManager& jobs, const v1::Dataset& dataset) {
  for (v1::JobState state : {v1::QUEUED, v1::RUNNING}) {
    std::string token;
    do {
      ASSIGN_OR_RETURN(JobPage page, jobs.List(state, 1000, token));
      for (const v1::Job& job : page.jobs) {
        if (job.spec().dataset().resolved().id() == dataset.id()) {
          return absl::FailedPreconditionError(StrCat(
              "dataset ", dataset.name(), " (", dataset.id(), ") is used by ",
              v1::JobState_Name(job.state()), " job ", job.id(),
              "; cancel it or wait until it ends, then delete the dataset"));
        }
      }
      token = page.next_page_token;
    } while (!token.empty());
  }
  return absl::OkStatus();
}

grpc::Status DatasetService::UploadDataset(grpc::ServerContext* context,
                                           grpc::ServerReader<v1::UploadDatasetRequest>* reader,
                                           v1::UploadDatasetResponse* response) {
  return AuthenticatedCall(tokens_, *context, [&]() -> absl::Status {
    if (store_ == nullptr) return NoStore();
    // An upload whose token is revoked mid-stream stops reading and is refused, not stored.
    StreamAuthentication authentication(tokens_, *context);
    absl::StatusOr<ReceivedUpload> upload = ReceiveUpload(
        [reader, &authentication](v1::UploadDatasetRequest* message) {
          return authentication.StillAccepted() && reader->Read(message);
        },
        max_dataset_bytes_);
    RETURN_IF_ERROR(authentication.status());
    RETURN_IF_ERROR(upload.status());
    ASSIGN_OR_RETURN(PutResult stored,
                     store_->Put(upload->header.name(), upload->bytes, absl::Now()));
    *response->mutable_dataset() = std::move(stored.dataset);
    response->set_already_stored(stored.already_stored);
    return absl::OkStatus();
  });
}

grpc::Status DatasetService::GetDataset(grpc::ServerContext* context,
                                        const v1::GetDatasetRequest* request,
                                        v1::Dataset* response) {
  return AuthenticatedCall(tokens_, *context, [&]() -> absl::Status {
    if (store_ == nullptr) return NoStore();
    RETURN_IF_ERROR(CheckReference(request->dataset()));
    ASSIGN_OR_RETURN(*response, store_->Get(request->dataset()));
    return absl::OkStatus();
  });
}

grpc::Status DatasetService::ListDatasets(grpc::ServerContext* context,
                                          const v1::ListDatasetsRequest* /*request*/,
                                          v1::ListDatasetsResponse* response) {
  return AuthenticatedCall(tokens_, *context, [&]() -> absl::Status {
    if (store_ == nullptr) return NoStore();
    ASSIGN_OR_RETURN(std::vector<v1::Dataset> datasets, store_->List());
    for (v1::Dataset& dataset : datasets) *response->add_datasets() = std::move(dataset);
    return absl::OkStatus();
  });
}

grpc::Status DatasetService::DeleteDataset(grpc::ServerContext* context,
                                           const v1::DeleteDatasetRequest* request,
                                           v1::DeleteDatasetResponse* response) {
  return AuthenticatedCall(tokens_, *context, [&]() -> absl::Status {
    if (store_ == nullptr) return NoStore();
    RETURN_IF_ERROR(CheckReference(request->dataset()));
    ASSIGN_OR_RETURN(DeleteResult deleted,
                     store_->Delete(request->dataset(), [this](const v1::Dataset& dataset) {
                       return jobs_ == nullptr ? absl::OkStatus()
                                               : CheckNoActiveJobUses(*jobs_, dataset);
                     }));
    *response->mutable_dataset() = std::move(deleted.dataset);
    response->mutable_remaining_names()->Add(deleted.remaining_names.begin(),
                                             deleted.remaining_names.end());
    return absl::OkStatus();
  });
}

}  // namespace descent::server
