# SPDX-License-Identifier: Apache-2.0
# Helpers shared by every module's CMakeLists.txt.

# iocb_module(NAME SOURCES... [DEPS targets...]) -> static library iocb_NAME
function(iocb_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  add_library(iocb_${name} STATIC ${M_SOURCES})
  target_include_directories(iocb_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  if(M_DEPS)
    target_link_libraries(iocb_${name} PUBLIC ${M_DEPS})
  endif()
endfunction()

# iocb_unit_test(NAME SOURCES... DEPS targets... [LABELS l...])
# One cmocka binary per module, registered with ctest under label "unit".
function(iocb_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} PkgConfig::CMOCKA)
  target_compile_definitions(${name} PRIVATE
    IOCB_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    IOCB_FIXTURES_DIR="${IOCB_FIXTURES_DIR}")
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT 120)
endfunction()
