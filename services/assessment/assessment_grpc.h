#ifndef GRIDLOOP_SERVICES_ASSESSMENT_ASSESSMENT_GRPC_H_
#define GRIDLOOP_SERVICES_ASSESSMENT_ASSESSMENT_GRPC_H_

#include "common/server/executor.h"
#include "gridloop/v1/assessment.grpc.pb.h"
#include "services/assessment/assessment.h"
#include "services/assessment/rebuilder.h"
#include "services/assessment/surveys.h"

namespace gridloop::assessment {

// The gRPC face of assessment: every call reads Redis (and surveys may ask the residents
// service), so each runs on the executor, never on a gRPC callback thread.
class AssessmentGrpc final : public v1::AssessmentService::CallbackService {
 public:
  // Pointers must outlive the service.
  AssessmentGrpc(Assessment* assessment, Surveys* surveys, Rebuilder* rebuilder,
                 server::Executor* executor);
  grpc::ServerUnaryReactor* GetScorecard(grpc::CallbackServerContext* ctx,
                                         const v1::GetScorecardRequest* req,
                                         v1::Scorecard* resp) override;
  grpc::ServerUnaryReactor* ListRankings(grpc::CallbackServerContext* ctx,
                                         const v1::ListRankingsRequest* req,
                                         v1::ListRankingsResponse* resp) override;
  grpc::ServerUnaryReactor* GetTrend(grpc::CallbackServerContext* ctx,
                                     const v1::GetTrendRequest* req,
                                     v1::GetTrendResponse* resp) override;
  grpc::ServerUnaryReactor* Explain(grpc::CallbackServerContext* ctx, const v1::ExplainRequest* req,
                                    v1::ExplainResponse* resp) override;
  grpc::ServerUnaryReactor* FreezeRatings(grpc::CallbackServerContext* ctx,
                                          const v1::FreezeRatingsRequest* req,
                                          v1::FreezeRatingsResponse* resp) override;
  grpc::ServerUnaryReactor* AppealRating(grpc::CallbackServerContext* ctx,
                                         const v1::AppealRatingRequest* req,
                                         v1::Appeal* resp) override;
  grpc::ServerUnaryReactor* ListAppeals(grpc::CallbackServerContext* ctx,
                                        const v1::ListAppealsRequest* req,
                                        v1::ListAppealsResponse* resp) override;
  grpc::ServerUnaryReactor* DefineSurvey(grpc::CallbackServerContext* ctx,
                                         const v1::DefineSurveyRequest* req,
                                         v1::Survey* resp) override;
  grpc::ServerUnaryReactor* GetSurvey(grpc::CallbackServerContext* ctx,
                                      const v1::GetSurveyRequest* req, v1::Survey* resp) override;
  grpc::ServerUnaryReactor* RespondToSurvey(grpc::CallbackServerContext* ctx,
                                            const v1::RespondToSurveyRequest* req,
                                            v1::SurveyReceipt* resp) override;
  grpc::ServerUnaryReactor* GetSurveyResults(grpc::CallbackServerContext* ctx,
                                             const v1::GetSurveyResultsRequest* req,
                                             v1::SurveyResults* resp) override;
  grpc::ServerUnaryReactor* StartRebuild(grpc::CallbackServerContext* ctx,
                                         const v1::StartRebuildRequest* req,
                                         v1::Rebuild* resp) override;
  grpc::ServerUnaryReactor* GetRebuild(grpc::CallbackServerContext* ctx,
                                       const v1::GetRebuildRequest* req,
                                       v1::Rebuild* resp) override;

 private:
  Assessment* const assessment_;
  Surveys* const surveys_;
  Rebuilder* const rebuilder_;
  server::Executor* const executor_;
};

}  // namespace gridloop::assessment

#endif  // GRIDLOOP_SERVICES_ASSESSMENT_ASSESSMENT_GRPC_H_
