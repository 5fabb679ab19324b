/* A userspace delay line for kernels without netem (scripts/cluster shape ... delay D):
 * every packet that iptables sends to NFQUEUE queue Q is accepted DELAY_US microseconds after
 * it arrived, in arrival order. Run inside the host's network namespace, fed by
 *   iptables -t mangle -A PREROUTING -i eth0 -j NFQUEUE --queue-num Q --queue-bypass
 * so that what the host receives is delayed (delaying what it sends would throttle TCP through
 * TCP Small Queues). The packets stay in the kernel; we hold only their ids.
 * Usage: delay-line QUEUE DELAY_US PIDFILE   (exits on SIGTERM)
 * Build: cc -O2 -o delay-line delay-line.c -lnetfilter_queue
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define CAPACITY (1 << 16) /* packets held at once; the kernel queue is as long */

static uint32_t ids[CAPACITY];
static uint64_t due[CAPACITY];
static unsigned head, len;
static uint64_t delay_us;
static volatile sig_atomic_t stop;

static uint64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static int on_packet(struct nfq_q_handle *q, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  (void)msg, (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  if (len == CAPACITY) /* full: let it through undelayed rather than lose it */
    return nfq_set_verdict(q, id, NF_ACCEPT, 0, NULL);
  unsigned tail = (head + len) % CAPACITY;
  ids[tail] = id;
  due[tail] = now_us() + delay_us;
  len++;
  return 0;
}

static void on_term(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: delay-line QUEUE DELAY_US PIDFILE\n");
    return 2;
  }
  int queue = atoi(argv[1]);
  delay_us = strtoull(argv[2], NULL, 10);
  struct nfq_handle *h = nfq_open();
  if (!h) { perror("delay-line: nfq_open"); return 1; }
  struct nfq_q_handle *q = nfq_create_queue(h, (uint16_t)queue, on_packet, NULL);
  if (!q) { perror("delay-line: nfq_create_queue"); return 1; }
  if (nfq_set_mode(q, NFQNL_COPY_META, 0) < 0) { perror("delay-line: nfq_set_mode"); return 1; }
  nfq_set_queue_maxlen(q, CAPACITY);
  FILE *pf = fopen(argv[3], "w");
  if (!pf) { perror("delay-line: pidfile"); return 1; }
  fprintf(pf, "%d\n", (int)getpid());
  fclose(pf);
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  int fd = nfq_fd(h);
  char buf[65536];
  while (!stop) {
    int wait_ms = -1;
    if (len) {
      uint64_t t = now_us();
      wait_ms = due[head] > t ? (int)((due[head] - t + 999) / 1000) : 0;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, wait_ms);
    if (r < 0 && errno != EINTR) { perror("delay-line: poll"); break; }
    if (r > 0 && (p.revents & POLLIN)) {
      ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) nfq_handle_packet(h, buf, (int)n);
    }
    for (uint64_t t = now_us(); len && due[head] <= t; len--, head = (head + 1) % CAPACITY)
      nfq_set_verdict(q, ids[head], NF_ACCEPT, 0, NULL);
  }
  /* Release what is held before going: the rule's --queue-bypass covers what comes after. */
  for (; len; len--, head = (head + 1) % CAPACITY) nfq_set_verdict(q, ids[head], NF_ACCEPT, 0, NULL);
  nfq_destroy_queue(q);
  nfq_close(h);
  return 0;
}
