# TGPULSE_SANITIZE selects the sanitizer build:
#   ON      ASan + UBSan (make test SANITIZE=1 uses build-asan/)
#   thread  ThreadSanitizer (make test-tsan uses build-tsan/); cannot be combined with ASan
if(TGPULSE_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(TGPULSE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
