"""Never returns."""


def loop_forever():
    while True:
        pass
