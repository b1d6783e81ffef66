/* keyward-tool's commands kept in files of their own. */
#ifndef KEYWARD_TOOL_H
#define KEYWARD_TOOL_H

/* cert-store / cert-get (keyward-tool-cert.c): argv as main's, argv[1] the command. */
int keyward_tool_cert(int argc, char **argv);

/* check-identity (keyward-tool-identity.c): argv as main's. */
int keyward_tool_identity(int argc, char **argv);

#endif
