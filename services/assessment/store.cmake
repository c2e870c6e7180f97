# The Redis adapter of assessment's store port, with its Lua scripts kept beside it.
# Included from this directory's CMakeLists.txt.
gridloop_library(gridloop_assessment_store
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/redis_assessment_store.cc
  DEPS gridloop_assessment_measures gridloop_redis gridloop_status gridloop_clock gridloop_proto
       OpenSSL::Crypto absl::status absl::statusor absl::strings absl::time)
gridloop_embed_text(gridloop_assessment_store lua/store_common.lua kAssessmentStoreCommonLua)
gridloop_embed_text(gridloop_assessment_store lua/store_apply_incident.lua
                    kAssessmentStoreApplyIncidentLua)
gridloop_embed_text(gridloop_assessment_store lua/store_apply_event.lua
                    kAssessmentStoreApplyEventLua)
gridloop_embed_text(gridloop_assessment_store lua/store_begin_rebuild.lua
                    kAssessmentStoreBeginRebuildLua)
gridloop_embed_text(gridloop_assessment_store lua/store_end_rebuild.lua
                    kAssessmentStoreEndRebuildLua)
gridloop_embed_text(gridloop_assessment_store lua/store_drop_generation.lua
                    kAssessmentStoreDropGenerationLua)
gridloop_embed_text(gridloop_assessment_store lua/store_appeal.lua kAssessmentStoreAppealLua)
gridloop_embed_text(gridloop_assessment_store lua/store_publish_score.lua
                    kAssessmentStorePublishScoreLua)

# Every method of the adapter against a real redis-server.
gridloop_test(assessment_store_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/redis_assessment_store_test.cc
  DEPS gridloop_assessment_store gridloop_testing_redis absl::synchronization
  LABELS integration
  TIMEOUT 180)
