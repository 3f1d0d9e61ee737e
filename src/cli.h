/* cli — the dmn_mpi command line (see cli.c and `dmn_mpi --help`). */
#ifndef DMN_CLI_H
#define DMN_CLI_H
int cli_main(int argc, char **argv);
#endif
