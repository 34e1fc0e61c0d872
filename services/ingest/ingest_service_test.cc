// IngestService over real gRPC on loopback, fed bytes as a hostile client
// would send them.

#include "services/ingest/ingest_service.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "libs/definitions/testing/definition_builders.h"
#include "libs/eventlog/rocksdb_event_log.h"
#include "libs/grpcutil/server_runner.h"
#include "libs/status/status_matchers.h"
#include "libs/streams/envelope.h"
#include "libs/streams/topics.h"

namespace strata::ingest {
namespace {

using ::strata::testing::Batch;
using ::strata::testing::KpiChange;
using ::strata::testing::UnitChange;
using ::testing::HasSubstr;

class IngestServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("strata_ingest_service_", getpid());
    std::filesystem::remove_all(dir_);
    log_ = *eventlog::OpenRocksDbEventLog(
        {(dir_ / "log").string(), DefaultTopics()});
    v1::EventEnvelope envelope = NewEnvelope(ThisProducer("test"));
    *envelope.mutable_definitions() =
        Batch({UnitChange("team", ""), KpiChange("sales")});
    ASSERT_OK(log_->Append(kDefinitionsTopic,
                           {{"defs", envelope.SerializeAsString()}}));
    definitions_ = *DefinitionsFollower::Create(*log_, "test");
    definitions_->Start();
    ASSERT_OK(definitions_->CatchUp(absl::Seconds(5)));
    index_ = *EventIdIndex::Open((dir_ / "ingest").string());
    ingestor_ = std::make_unique<KpiEventIngestor>(
        *log_, *definitions_, *index_, ThisProducer("test"),
        *log_->PartitionCount(kKpiEventsTopic));
    service_ = std::make_unique<IngestService>(*ingestor_);
    auto port = server_.Start("127.0.0.1:0", {service_.get()});
    ASSERT_OK(port);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", *port),
                                   grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    server_.Shutdown(absl::Seconds(1));
    std::filesystem::remove_all(dir_);
  }

  static grpc::ByteBuffer Bytes(const std::string& bytes) {
    grpc::Slice slice(bytes);
    return grpc::ByteBuffer(&slice, 1);
  }

  static std::string ValidRequest(const std::string& id) {
    v1::IngestRequest request;
    v1::KpiEvent* e = request.add_events();
    e->set_event_id(id);
    e->set_kpi_id("sales");
    e->set_unit_id("team");
    e->mutable_event_time()->set_seconds(1'790'000'000);
    e->set_value(1);
    return request.SerializeAsString();
  }

  // One unary call of `method` with `request` as its bytes.
  grpc::Status CallUnary(const std::string& method, const std::string& request) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    grpc::CompletionQueue cq;
    grpc::ByteBuffer response;
    grpc::Status status;
    auto call = stub.PrepareUnaryCall(&context, method, Bytes(request), &cq);
    call->StartCall();
    call->Finish(&response, &status, this);
    void* tag;
    bool ok;
    cq.Next(&tag, &ok);
    return status;
  }

  // A client stream of `messages` (raw bytes each) to IngestStream.
  grpc::Status CallStream(const std::vector<std::string>& messages,
                          v1::IngestResponse* response) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext context;
    grpc::CompletionQueue cq;
    auto call = stub.PrepareCall(
        &context, "/strata.v1.IngestService/IngestStream", &cq);
    void* tag;
    bool ok;
    call->StartCall(this);
    cq.Next(&tag, &ok);
    for (const std::string& m : messages) {
      call->Write(Bytes(m), this);
      cq.Next(&tag, &ok);
      if (!ok) break;  // The server ended the call.
    }
    call->WritesDone(this);
    cq.Next(&tag, &ok);
    grpc::ByteBuffer bytes;
    call->Read(&bytes, this);
    cq.Next(&tag, &ok);
    if (ok) {
      std::vector<grpc::Slice> slices;
      (void)bytes.Dump(&slices);
      std::string joined;
      for (const auto& s : slices) {
        joined.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
      response->ParseFromString(joined);
    }
    grpc::Status status;
    call->Finish(&status, this);
    cq.Next(&tag, &ok);
    return status;
  }

  std::filesystem::path dir_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<DefinitionsFollower> definitions_;
  std::unique_ptr<EventIdIndex> index_;
  std::unique_ptr<KpiEventIngestor> ingestor_;
  std::unique_ptr<IngestService> service_;
  ServerRunner server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(IngestServiceTest, BytesThatDoNotParseAreInvalidArgumentNotUnimplemented) {
  const grpc::Status status =
      CallUnary("/strata.v1.IngestService/Ingest", "\xff\xff\xff\xff garbage");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("request does not parse as strata.v1.IngestRequest"));
}

TEST_F(IngestServiceTest, AStringThatIsNotUtf8IsNamed) {
  std::string request = ValidRequest("id-\xc3\x28");  // Invalid UTF-8.
  const grpc::Status status =
      CallUnary("/strata.v1.IngestService/Ingest", request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("invalid UTF-8"));
  EXPECT_THAT(status.error_message(), HasSubstr("strata.v1.KpiEvent.event_id"));
}

TEST_F(IngestServiceTest, AStreamWithAnUnreadableMessageFailsAtItsIndex) {
  v1::IngestResponse response;
  // Ended OK with accepted=3 before: the bad message looked like the end.
  const grpc::Status status = CallStream(
      {ValidRequest("a"), ValidRequest("b"), ValidRequest("c"),
       "\xff\xff\xff\xff garbage", ValidRequest("d"), ValidRequest("e")},
      &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("message 3 (3 events accepted before it): request "
                        "does not parse"));
}

TEST_F(IngestServiceTest, AWellFormedStreamAnswersTheCount) {
  v1::IngestResponse response;
  const grpc::Status status =
      CallStream({ValidRequest("a"), ValidRequest("b")}, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.accepted(), 2);
}

}  // namespace
}  // namespace strata::ingest
