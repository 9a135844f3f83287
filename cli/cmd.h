/*
 * cmd: the subcommands of the `sentistream` binary. Each lives in
 * cli/cmd_<name>.c, takes the arguments after its own name, and returns the
 * process exit status (0 ok, 1 runtime failure, 2 usage or config error).
 * Commands never call each other: what several share is in cli_util.h.
 */
#ifndef SS_CMD_H
#define SS_CMD_H

int ss_cmd_config(int argc, char **argv);
int ss_cmd_train(int argc, char **argv);
int ss_cmd_eval(int argc, char **argv);
int ss_cmd_calibrate(int argc, char **argv);
int ss_cmd_score(int argc, char **argv);
int ss_cmd_consume(int argc, char **argv);
int ss_cmd_produce(int argc, char **argv);
int ss_cmd_monitor(int argc, char **argv);
/* `monitor replay` and `monitor report`, reached through ss_cmd_monitor(). */
int ss_cmd_monitor_replay(int argc, char **argv);
int ss_cmd_monitor_report(int argc, char **argv);
int ss_cmd_label(int argc, char **argv);
int ss_cmd_convert(int argc, char **argv);
int ss_cmd_tail(int argc, char **argv);
int ss_cmd_models(int argc, char **argv);
int ss_cmd_lineage(int argc, char **argv);
int ss_cmd_retrain(int argc, char **argv);

#endif /* SS_CMD_H */
