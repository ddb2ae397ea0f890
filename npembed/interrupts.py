"""Ctrl-C never splits a weight update: a SIGINT that arrives during one is held until it ends."""
import contextlib
import signal
import threading


class HeldInterrupts:
    """Holds Ctrl-C (SIGINT) while the weights are being updated (in npembed's training, the whole
    step: the embedding's backward kernel may apply its update): each weight gets it, or none.

    ``with held.installed():`` puts a handler in place once around a training loop; inside it,
    ``with held:`` marks one update (two attribute writes, so it costs nothing per batch).
    Ctrl-C outside an update reaches the previous handler at once (KeyboardInterrupt by default);
    during an update, right after it. Outside ``installed`` (or off the main thread) nothing is held.
    """

    def __init__(self):
        self.previous = None                 # the handler to deliver to; None when not installed
        self.updating = False
        self.pending = None                  # (signum, frame) of a held Ctrl-C

    def _handle(self, signum, frame):
        # the SIGINT handler while installed
        if self.updating:
            self.pending = (signum, frame)
        else:
            self._deliver(signum, frame)

    def _deliver(self, signum, frame):
        # what Ctrl-C would have done without us: the previous handler, or KeyboardInterrupt
        if callable(self.previous):
            self.previous(signum, frame)
        elif self.previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self):
        """Install the handler for the block (once, on the main thread; nested calls do nothing)."""
        previous = signal.getsignal(signal.SIGINT)
        if self.previous is not None or previous is None or \
                threading.current_thread() is not threading.main_thread():
            yield                            # already installed (nested), or cannot be
            return
        self.previous = previous
        signal.signal(signal.SIGINT, self._handle)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
            self.previous, self.pending = None, None

    def __enter__(self):                     # ``with held:`` marks one update
        self.updating = True

    def __exit__(self, *exc):
        self.updating = False
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self._deliver(*pending)
        return False


@contextlib.contextmanager
def holding():
    """Hold Ctrl-C for the whole block: e.g. files that belong together are all written, or none."""
    held = HeldInterrupts()
    with held.installed(), held:
        yield
