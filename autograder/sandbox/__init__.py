"""Running untrusted code: the zygote, its confined workers, the pickle-free transfer and the control channel."""
