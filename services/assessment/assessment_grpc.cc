#include "services/assessment/assessment_grpc.h"

#include "common/server/unary_call.h"

namespace gridloop::assessment {

AssessmentGrpc::AssessmentGrpc(Assessment* assessment, Surveys* surveys, Rebuilder* rebuilder,
                               server::Executor* executor)
    : assessment_(assessment), surveys_(surveys), rebuilder_(rebuilder), executor_(executor) {}

grpc::ServerUnaryReactor* AssessmentGrpc::GetScorecard(grpc::CallbackServerContext* ctx,
                                                       const v1::GetScorecardRequest* req,
                                                       v1::Scorecard* resp) {
  return server::RunOnExecutor(*executor_, ctx, "assessment", resp, [this, req](const Caller& c) {
    return assessment_->GetScorecard(c, *req);
  });
}

grpc::ServerUnaryReactor* AssessmentGrpc::ListRankings(grpc::CallbackServerContext* ctx,
                                                       const v1::ListRankingsRequest* req,
                                                       v1::ListRankingsResponse* resp) {
  return server::RunOnExecutor(*executor_, ctx, "assessment", resp, [this, req](const Caller& c) {
    return assessment_->ListRankings(c, *req);
  });
}

grpc::ServerUnaryReactor* AssessmentGrpc::GetTrend(grpc::CallbackServerContext* ctx,
                                                   const v1::GetTrendRequest* req,
                                                   v1::GetTrendResponse* resp) {
  return server::RunOnExecutor(*executor_, ctx, "assessment", resp, [this, req](const Caller& c) {
    return assessment_->GetTrend(c, *req);
  });
}

grpc::ServerUnaryReactor* AssessmentGrpc::Explain(grpc::CallbackServerContext* ctx,
                                                  const v1::ExplainRequest* req,
                                                  v1::ExplainResponse* resp) {
  return server::RunOnExecutor(*executor_, ctx, "assessment", resp, [this, req](const Caller& c) {
    return assessment_->Explain(c, *req);
  });
}

grpc::ServerUnaryReactor* AssessmentGrpc::FreezeRatings(grpc::CallbackServerContext* ctx,
                                                        const v1::FreezeRatingsRequest* req,
                                                        v1::FreezeRatingsResponse* resp) {
  return server::RunOnExecutor(*executor_, ctx, "assessment", resp, [this, req](const Caller& c) {
    return assessment_->FreezeRatings(c, *req);
  });
}

grpc::ServerUnaryReactor* AssessmentGrpc::AppealRating(grpc::CallbackServerContext* ctx,
                                                       const v1::AppealRatingRequest* req,
                                                       v1::Appeal* resp) {
  return server::RunOnExecutor(*executor_, ctx, "assessment", resp, [this, req](const Caller& c) {
    return assessment_->AppealRating(c, *req);
  });
}

grpc::ServerUnaryReactor* AssessmentGrpc::ListAppeals(grpc::CallbackServerContext* ctx,
                                                      const v1::ListAppealsRequest* req,
                                                      v1::ListAppealsResponse* resp) {
  return server::RunOnExecutor(*executor_, ctx, "assessment", resp, [this, req](const Caller& c) {
    return assessment_->ListAppeals(c, *req);
  });
}

grpc::ServerUnaryReactor* AssessmentGrpc::DefineSurvey(grpc::CallbackServerContext* ctx,
                                                       const v1::DefineSurveyRequest* req,
                                                       v1::Survey* resp) {
  return server::RunOnExecutor(*executor_, ctx, "assessment", resp,
                               [this, req](const Caller& c) { return surveys_->Define(c, *req); });
}

grpc::ServerUnaryReactor* AssessmentGrpc::GetSurvey(grpc::CallbackServerContext* ctx,
                                                    const v1::GetSurveyRequest* req,
                                                    v1::Survey* resp) {
  return server::RunOnExecutor(*executor_, ctx, "assessment", resp,
                               [this, req](const Caller& c) { return surveys_->Get(c, *req); });
}

grpc::ServerUnaryReactor* AssessmentGrpc::RespondToSurvey(grpc::CallbackServerContext* ctx,
                                                          const v1::RespondToSurveyRequest* req,
                                                          v1::SurveyReceipt* resp) {
  return server::RunOnExecutor(*executor_, ctx, "assessment", resp,
                               [this, req](const Caller& c) { return surveys_->Respond(c, *req); });
}

grpc::ServerUnaryReactor* AssessmentGrpc::GetSurveyResults(grpc::CallbackServerContext* ctx,
                                                           const v1::GetSurveyResultsRequest* req,
                                                           v1::SurveyResults* resp) {
  return server::RunOnExecutor(*executor_, ctx, "assessment", resp,
                               [this, req](const Caller& c) { return surveys_->Results(c, *req); });
}

grpc::ServerUnaryReactor* AssessmentGrpc::StartRebuild(grpc::CallbackServerContext* ctx,
                                                       const v1::StartRebuildRequest* req,
                                                       v1::Rebuild* resp) {
  return server::RunOnExecutor(*executor_, ctx, "assessment", resp,
                               [this, req](const Caller& c) { return rebuilder_->Start(c, *req); });
}

grpc::ServerUnaryReactor* AssessmentGrpc::GetRebuild(grpc::CallbackServerContext* ctx,
                                                     const v1::GetRebuildRequest* req,
                                                     v1::Rebuild* resp) {
  return server::RunOnExecutor(*executor_, ctx, "assessment", resp,
                               [this, req](const Caller& c) { return rebuilder_->Get(c, *req); });
}

}  // namespace gridloop::assessment
