/*
 * thread.h — starting the process's background threads.
 */
#ifndef CHATPAY_UTIL_THREAD_H
#define CHATPAY_UTIL_THREAD_H

#include <pthread.h>

/* pthread_create with every signal blocked in the new thread: a process's
 * signals go to the thread that waits for them (sigwait in serve and
 * worker), never to a background thread. Returns pthread_create's result. */
int thread_start_quiet(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
