# Golden tests of `iocbus enrich`: one ctest test per case directory under
# tests/golden/enrich/ (intel + events + args -> expected output), run by
# enrich_golden.sh. Regenerate with
#   IOCB_UPDATE_GOLDEN=1 ctest -R enrich_golden   (then review the diff).
# enrich_property checks invariants over every fixture log, the example logs
# and deterministically mangled lines.
file(GLOB IOCB_ENRICH_CASES CONFIGURE_DEPENDS LIST_DIRECTORIES true ${CMAKE_CURRENT_LIST_DIR}/enrich/*)
foreach(dir ${IOCB_ENRICH_CASES})
  if(IS_DIRECTORY ${dir})
    get_filename_component(case ${dir} NAME)
    add_test(NAME enrich_golden/${case}
             COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/enrich_golden.sh $<TARGET_FILE:iocbus> ${dir})
    set_tests_properties(enrich_golden/${case} PROPERTIES LABELS golden TIMEOUT 60)
  endif()
endforeach()
add_test(NAME enrich_property
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/enrich_property.sh $<TARGET_FILE:iocbus> ${PROJECT_SOURCE_DIR}
                 ${IOCB_FIXTURES_DIR}/logs)
set_tests_properties(enrich_property PROPERTIES LABELS golden TIMEOUT 120)
