"""Entry module of the Field Sales client, as `flet build` and `flet run` expect it.

For web mode during development and tests, use `python -m mobile.web` instead.
"""

import flet as ft

from mobile.app import main

if __name__ == "__main__":
    ft.run(main, assets_dir="assets")
