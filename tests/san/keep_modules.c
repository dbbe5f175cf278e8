/* keep_modules.c: a dlclose that keeps every library loaded. Preloaded only in the
 * AddressSanitizer test run (tests/CMakeLists.txt), so that LeakSanitizer, which reports at exit,
 * can still name the Open MPI plugins (mca_*.so) that allocated memory they never free:
 * Open MPI unloads them in MPI_Finalize, and a report of an unloaded module cannot be matched by
 * tests/san/lsan.supp. Built without the sanitizers, so that programs that are not instrumented
 * (bash, mpirun, python3) can load it too. */
int dlclose(void *handle);

int dlclose(void *handle) {
    (void)handle;
    return 0;
}
