"""``python -m thetahat``: the same as the ``thetahat`` command."""

from thetahat.cli import app

if __name__ == "__main__":
    app(prog_name="thetahat")
