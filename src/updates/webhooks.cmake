# Webhook building blocks (docs/api.md#webhooks): URL parsing, the address policy, name resolution,
# signatures, the retry policy and the delivery client. Included by src/updates/CMakeLists.txt.
find_package(OpenSSL REQUIRED)
tgpulse_library(tgpulse_webhooks
  SOURCES webhook_url.cc webhook_address.cc webhook_resolver.cc webhook_signature.cc webhook_retry_policy.cc
          webhook_client.cc
  DEPS tgpulse_core tgpulse_asio OpenSSL::SSL OpenSSL::Crypto)
# GCC 12 false positives inside Boost.Asio 1.74 coroutine code (see src/http/CMakeLists.txt).
target_compile_options(tgpulse_webhooks PRIVATE -Wno-mismatched-new-delete -Wno-null-dereference)

if(TGPULSE_BUILD_TESTS)
  tgpulse_test(webhook_test
    SOURCES webhook_url_test.cc webhook_address_test.cc webhook_signature_test.cc webhook_retry_policy_test.cc
            webhook_client_test.cc
    DEPS tgpulse_webhooks)
  target_compile_options(webhook_test PRIVATE -Wno-mismatched-new-delete -Wno-null-dereference)
  find_package(Python3 COMPONENTS Interpreter REQUIRED)
  target_compile_definitions(webhook_test PRIVATE
    TGPULSE_SOURCE_DIR="${CMAKE_SOURCE_DIR}" TGPULSE_PYTHON="${Python3_EXECUTABLE}")
endif()

# The deliveries (one loop per tenant with a webhook) and the /v1/webhook routes, on the update hub,
# the update routes' JSON and the client above.
tgpulse_library(tgpulse_webhook_delivery SOURCES webhook_delivery.cc webhook_routes.cc
  DEPS tgpulse_update_routes tgpulse_webhooks)
target_compile_options(tgpulse_webhook_delivery PRIVATE -Wno-mismatched-new-delete -Wno-null-dereference)
if(TGPULSE_BUILD_TESTS)
  tgpulse_test(webhook_delivery_test SOURCES webhook_delivery_test.cc DEPS tgpulse_webhook_delivery tgpulse_store_testing)
  target_compile_options(webhook_delivery_test PRIVATE -Wno-mismatched-new-delete -Wno-null-dereference)
endif()
