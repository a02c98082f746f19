// What deepmd-kit's CMake would generate; pair_style deepmd prints these when it starts.
#define STR_GIT_SUMM "v3.2.0 (sdist, built by pair_student)"
#define STR_GIT_HASH "sdist"
#define STR_GIT_BRANCH "sdist"
#define STR_GIT_DATE "sdist"
#define STR_FLOAT_PREC "double"
#define STR_DEEPMD_ROOT "deepmd-kit wheel"
#define STR_BACKEND_INCLUDE_DIRS ""
#define STR_BACKEND_LIBRARY_PATH ""
