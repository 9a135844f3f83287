/*
 * ss_log: one-line logs to stderr: "2026-11-25T07:30:00.123Z LEVEL component: message".
 * Level from SS_LOG_LEVEL (debug, info, warn, error) or ss_log_level_set().
 */
#ifndef SS_LOG_H
#define SS_LOG_H

typedef enum { SS_LOG_DEBUG = 0, SS_LOG_INFO, SS_LOG_WARN, SS_LOG_ERROR } ss_log_level_t;

void ss_log_level_set(ss_log_level_t level);
ss_log_level_t ss_log_level_get(void);
void ss_log(ss_log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define ss_debug(comp, ...) ss_log(SS_LOG_DEBUG, comp, __VA_ARGS__)
#define ss_info(comp, ...)  ss_log(SS_LOG_INFO, comp, __VA_ARGS__)
#define ss_warn(comp, ...)  ss_log(SS_LOG_WARN, comp, __VA_ARGS__)
#define ss_error(comp, ...) ss_log(SS_LOG_ERROR, comp, __VA_ARGS__)

#endif /* SS_LOG_H */
