# Runs facefill-bench on 6 generated 3 MP images (1 repetition, no sweep) and checks bench.json/md/png exist and
# report a positive pipelined rate.
file(REMOVE_RECURSE "${OUT}")
execute_process(COMMAND "${BENCH}" --generate 6 --profile 3mp --repetitions 1 --sample 6 --no-sweep --out "${OUT}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "facefill-bench failed (${rc}):\n${out}\n${err}")
endif()
foreach(f bench.json bench.md bench.png)
  if(NOT EXISTS "${OUT}/${f}")
    message(FATAL_ERROR "facefill-bench did not write ${f}")
  endif()
endforeach()
file(READ "${OUT}/bench.json" json)
string(JSON rate GET "${json}" pipelined images_per_second)
if(NOT rate GREATER 0)
  message(FATAL_ERROR "pipelined images_per_second is ${rate}")
endif()
message(STATUS "bench smoke: pipelined ${rate} images/s")
