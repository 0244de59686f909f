"""What a Grid Engine cell configures, as the simulated one is set up (like the real cell the
captures came from: ``tests/tools/sge_real_up.sh``): queue ``all.q``, PE ``smp`` with
``$pe_slots``, the standard complexes, the architecture string and the default job PATH."""

from __future__ import annotations

__all__ = ["ARCH", "COMPLEXES", "DEFAULT_QUEUE", "JOB_PATH", "PARALLEL_ENVIRONMENTS", "QUEUE_SHELL",
           "SGE_CELL", "SGE_ROOT", "TIME_COMPLEXES", "MEMORY_COMPLEXES"]

DEFAULT_QUEUE = "all.q"
PARALLEL_ENVIRONMENTS = ("smp",)  # each $pe_slots: all slots on one host
QUEUE_SHELL = "/bin/sh"  # the queue's shell (shell_start_mode posix_compliant): #! is ignored
ARCH = "lx-amd64"
SGE_ROOT = "/var/lib/gridengine"
SGE_CELL = "default"
JOB_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games"
TIME_COMPLEXES = frozenset({"h_rt", "s_rt", "h_cpu", "s_cpu"})
MEMORY_COMPLEXES = frozenset({"h_vmem", "s_vmem", "mem_free", "h_data", "s_data", "h_stack",
                              "s_stack", "h_rss", "s_rss", "h_fsize", "s_fsize", "h_core", "s_core",
                              "virtual_free", "mem_total", "mem_used", "swap_free", "virtual_total"})
COMPLEXES = TIME_COMPLEXES | MEMORY_COMPLEXES | frozenset(
    {"arch", "hostname", "qname", "slots", "calendar", "cpu", "display_win_gui", "load_avg",
     "load_long", "load_medium", "load_short", "np_load_avg", "num_proc", "seq_no", "tmpdir",
     "m_core", "m_socket", "m_thread", "m_topology"})
