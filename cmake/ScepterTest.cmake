# scepter_module(NAME DEPS libs... [EXCLUDE files...])
# One library target per src/ folder: scepter_NAME from every *.cpp in the folder that is
# not a test (*_test.cpp) or a main (*_main.cpp), and one gtest binary NAME_test from the
# *_test.cpp files beside them. New files are picked up without editing CMake.
function(scepter_module name)
  cmake_parse_arguments(M "" "" "DEPS;TEST_DEPS" ${ARGN})
  file(GLOB all_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp
       ${CMAKE_CURRENT_SOURCE_DIR}/*/*.cpp)
  set(lib_sources "")
  set(test_sources "")
  foreach(src ${all_sources})
    if(src MATCHES "_test\\.cpp$")
      list(APPEND test_sources ${src})
    elseif(NOT src MATCHES "_main\\.cpp$")
      list(APPEND lib_sources ${src})
    endif()
  endforeach()
  add_library(scepter_${name} ${lib_sources})
  target_include_directories(scepter_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(scepter_${name} PUBLIC ${M_DEPS})
  if(test_sources)
    scepter_add_test(${name}_test SOURCES ${test_sources} LIBS scepter_${name} ${M_TEST_DEPS})
  endif()
endfunction()

# scepter_add_test(NAME SOURCES src... LIBS libs...): one gtest binary registered with CTest.
function(scepter_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  if(NOT SCEPTER_TESTS)
    return()
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} scepter_testing GTest::gtest GTest::gtest_main
                        GTest::gmock)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300 LABELS unit)
endfunction()
