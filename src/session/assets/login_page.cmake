# Library tgpulse_login_page: login.html embedded as tgpulse::session::assets::login_page_html()
# (header session/assets/login_page.h). Regenerated whenever login.html changes.
set(_login_page_dir ${CMAKE_SOURCE_DIR}/src/session/assets)
set(_login_page_cc ${CMAKE_BINARY_DIR}/generated/session/assets/login_page.cc)
add_custom_command(
  OUTPUT ${_login_page_cc}
  COMMAND ${CMAKE_COMMAND} -DINPUT=${_login_page_dir}/login.html -DOUTPUT=${_login_page_cc}
          -DNAMESPACE=tgpulse::session::assets -DFUNCTION=login_page_html -DHEADER=session/assets/login_page.h
          -P ${CMAKE_SOURCE_DIR}/cmake/embed_asset.cmake
  DEPENDS ${_login_page_dir}/login.html ${CMAKE_SOURCE_DIR}/cmake/embed_asset.cmake
  COMMENT "Embedding the login page"
  VERBATIM)
tgpulse_library(tgpulse_login_page SOURCES ${_login_page_cc} DEPS)
tgpulse_test(login_page_test SOURCES ${_login_page_dir}/login_page_test.cc DEPS tgpulse_login_page)
if(TARGET login_page_test)
  target_compile_definitions(login_page_test PRIVATE TGPULSE_LOGIN_PAGE_FILE="${_login_page_dir}/login.html")
endif()
