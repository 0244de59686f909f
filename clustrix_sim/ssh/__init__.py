"""The simulated login node's SSH front door: a paramiko server on loopback, and its keys.

Owns the server (``server``: listening, connections, fault injection), the per-connection policy
(``connection``: public-key logins, which channel requests are honoured), running one command
(``exec_session``), SFTP over the real filesystem (``sftp``), key material and known_hosts files
(``keys``), and ``python -m clustrix_sim.ssh`` (``__main__``: the server as its own process).

May import: the standard library, paramiko and cryptography. Nothing of the engine or the
controller: commands reach the cluster through the tools on the PATH it is given.
"""
