# The volunteer side of dispatch's keyspace on Redis, with its Lua scripts kept beside it.
# Included from this directory's CMakeLists.txt.
gridloop_library(gridloop_dispatch_store
  SOURCES redis_volunteer_store.cc
  DEPS gridloop_dispatch_ports gridloop_dispatch_rules gridloop_identity gridloop_redis gridloop_clock gridloop_status absl::status
       absl::statusor absl::strings absl::str_format absl::time)
gridloop_embed_text(gridloop_dispatch_store lua/volunteer_common.lua kDispatchVolunteerCommonLua)
gridloop_embed_text(gridloop_dispatch_store lua/volunteer_register.lua
                    kDispatchVolunteerRegisterLua)
gridloop_embed_text(gridloop_dispatch_store lua/volunteer_update.lua kDispatchVolunteerUpdateLua)
gridloop_embed_text(gridloop_dispatch_store lua/volunteer_deactivate.lua
                    kDispatchVolunteerDeactivateLua)
gridloop_embed_text(gridloop_dispatch_store lua/volunteer_offers.lua kDispatchVolunteerOffersLua)
gridloop_embed_text(gridloop_dispatch_store lua/activity_common.lua kDispatchActivityCommonLua)
gridloop_embed_text(gridloop_dispatch_store lua/activity_create.lua kDispatchActivityCreateLua)
gridloop_embed_text(gridloop_dispatch_store lua/activity_sign_up.lua kDispatchActivitySignUpLua)
gridloop_embed_text(gridloop_dispatch_store lua/activity_cancel.lua kDispatchActivityCancelLua)
gridloop_embed_text(gridloop_dispatch_store lua/activity_check_in.lua kDispatchActivityCheckInLua)
gridloop_embed_text(gridloop_dispatch_store lua/activity_check_out.lua
                    kDispatchActivityCheckOutLua)
gridloop_embed_text(gridloop_dispatch_store lua/ledger_apply.lua kDispatchLedgerApplyLua)
gridloop_embed_text(gridloop_dispatch_store lua/ledger_credit.lua kDispatchLedgerCreditLua)
gridloop_embed_text(gridloop_dispatch_store lua/ledger_offer_outcome.lua
                    kDispatchLedgerOfferOutcomeLua)
gridloop_embed_text(gridloop_dispatch_store lua/ledger_record.lua kDispatchLedgerRecordLua)

# Every method against a real redis-server.
gridloop_test(dispatch_volunteer_store_test
  SOURCES redis_volunteer_store_test.cc
  DEPS gridloop_dispatch_store gridloop_testing_redis absl::synchronization
  LABELS integration
  TIMEOUT 180)
