/* The compiled client of a simulated cluster's tool server (clustrix_sim.controller.toolserver).

   Built once per machine by clustrix_sim/controller/toolclient.py and copied into the cluster's
   bin/ under each tool's name. It does what the Python tool script's fast path does, without
   starting an interpreter: send the tool's name, argv, cwd, umask and environment with its
   stdin/stdout/stderr (SCM_RIGHTS) to <socket dir>/tools.sock, forward SIGINT/SIGTERM/SIGHUP
   to the worker that runs the tool, and exit with the tool's exit code. Whenever the tool
   server cannot be used it execs the Python tool script, which runs the tool itself: the result
   is the same, only slower.

   Its settings are in <its own directory>/.toolclient, four lines: flavor, controller socket
   (used when $CLUSTRIX_SIM_SOCKET is unset), the directory of the Python tool scripts, and a
   format marker. The wire format is toolserver's (see there): a 4-byte big-endian length, then
   NUL-separated fields. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAGIC "clustrix-sim-tool/2"

extern char **environ;
static volatile int server_fd = -1;  /* the connection, once the worker took the call */
static volatile sig_atomic_t forwarded = 0;

struct buf { char *data; size_t len, cap; };

static int put(struct buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap) cap *= 2;
        char *data = realloc(b->data, cap);
        if (!data) return -1;
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->data[b->len + n] = '\0';
    b->len += n + 1;
    return 0;
}

static int put_str(struct buf *b, const char *s) { return put(b, s, strlen(s)); }

static int put_num(struct buf *b, long n) {
    char text[32];
    snprintf(text, sizeof text, "%ld", n);
    return put_str(b, text);
}

/* Forward a signal as its number on the connection (the worker raises or dies of it); never
   by kill(): a late signal then finds the call over, not the worker's next call. */
static void forward(int sig) {
    int saved = errno;
    unsigned char number = (unsigned char)sig;
    if (server_fd >= 0 && send(server_fd, &number, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) forwarded = sig;
    errno = saved;
}

/* Read exactly 4 bytes (a big-endian unsigned int); -1 on EOF or error. */
static long read_u32(int fd) {
    unsigned char raw[4];
    size_t got = 0;
    while (got < 4) {
        ssize_t n = recv(fd, raw + got, 4 - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    return ((long)raw[0] << 24) | ((long)raw[1] << 16) | ((long)raw[2] << 8) | (long)raw[3];
}

static void fallback(const char *script_dir, const char *tool, char **argv) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", script_dir, tool) < (int)sizeof path) execv(path, argv);
    fprintf(stderr, "%s: error: cannot run the simulator's tool script %s: %s\n", tool, path, strerror(errno));
    exit(1);
}

int main(int argc, char **argv) {
    char exe[PATH_MAX], conf_path[PATH_MAX + 16], conf[3 * PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) { perror("clustrix-sim tool: /proc/self/exe"); return 1; }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return 1;
    *slash = '\0';
    const char *tool = slash + 1;
    snprintf(conf_path, sizeof conf_path, "%s/.toolclient", exe);
    FILE *fh = fopen(conf_path, "r");
    if (!fh) { fprintf(stderr, "%s: error: cannot read %s: %s\n", tool, conf_path, strerror(errno)); return 1; }
    size_t conf_len = fread(conf, 1, sizeof conf - 1, fh);
    fclose(fh);
    conf[conf_len] = '\0';
    char *fields[4] = {0};
    char *cursor = conf;
    for (int i = 0; i < 4; i++) {
        fields[i] = cursor;
        char *nl = strchr(cursor, '\n');
        if (!nl) { fprintf(stderr, "%s: error: malformed %s\n", tool, conf_path); return 1; }
        *nl = '\0';
        cursor = nl + 1;
    }
    const char *flavor = fields[0], *default_socket = fields[1], *script_dir = fields[2];
    if (strcmp(fields[3], MAGIC) != 0) fallback(script_dir, tool, argv);

    setenv("CLUSTRIX_SIM_SOCKET", default_socket, 0);  /* as the script's os.environ.setdefault */
    const char *ctl = getenv("CLUSTRIX_SIM_SOCKET");
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    const char *ctl_slash = strrchr(ctl, '/');
    size_t dir_len = ctl_slash ? (size_t)(ctl_slash - ctl) : 0;
    if (!ctl_slash || dir_len + sizeof "/tools.sock" > sizeof addr.sun_path) fallback(script_dir, tool, argv);
    memcpy(addr.sun_path, ctl, dir_len);
    memcpy(addr.sun_path + dir_len, "/tools.sock", sizeof "/tools.sock");

    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) fallback(script_dir, tool, argv);
    mode_t mask = umask(022);
    umask(mask);
    struct buf body = {0};
    long envc = 0;
    for (char **e = environ; *e; e++) envc++;
    int bad = put_str(&body, MAGIC) || put_str(&body, flavor) || put_str(&body, tool) ||
              put_str(&body, cwd) || put_num(&body, (long)mask) || put_num(&body, argc - 1);
    for (int i = 1; i < argc && !bad; i++) bad = put_str(&body, argv[i]);
    bad = bad || put_num(&body, envc);
    for (char **e = environ; *e && !bad; e++) bad = put_str(&body, *e);
    if (bad) fallback(script_dir, tool, argv);
    body.len--;  /* fields are separated by NULs, not terminated */

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) fallback(script_dir, tool, argv);
    unsigned char header[4] = {(unsigned char)(body.len >> 24), (unsigned char)(body.len >> 16),
                               (unsigned char)(body.len >> 8), (unsigned char)body.len};
    int fds[3] = {0, 1, 2};
    char control[CMSG_SPACE(sizeof fds)];
    memset(control, 0, sizeof control);
    struct iovec iov[2] = {{header, 4}, {body.data, body.len}};
    struct msghdr msg = {0};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(cmsg), fds, sizeof fds);
    size_t total = 4 + body.len;
    ssize_t sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (sent < 0) fallback(script_dir, tool, argv);
    size_t done = (size_t)sent;
    while (done < total) {  /* the rest of a large request, without the descriptors again */
        const char *from = done < 4 ? (const char *)header + done : body.data + (done - 4);
        size_t left = done < 4 ? 4 - done : total - done;
        ssize_t more = send(fd, from, left, MSG_NOSIGNAL);
        if (more < 0 && errno == EINTR) continue;
        if (more <= 0) fallback(script_dir, tool, argv);
        done += (size_t)more;
    }
    long pid = read_u32(fd);
    if (pid <= 0) fallback(script_dir, tool, argv);  /* the server refused before starting the tool */
    server_fd = fd;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    long rc = read_u32(fd);
    if (rc < 0 && forwarded) {  /* the tool was killed by the signal: so is its caller */
        signal((int)forwarded, SIG_DFL);
        raise((int)forwarded);
    }
    return rc < 0 ? 1 : (int)(rc & 0xFF);
}
