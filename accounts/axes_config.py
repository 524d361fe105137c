"""django-axes' app config, named for what its admin section holds (accounts/lockout_admin.py).

Its own module: a second AppConfig in accounts/apps.py would stop Django from picking
AccountsConfig for "accounts" automatically.
"""

from axes.apps import AppConfig


class SignInRecordsConfig(AppConfig):
    verbose_name = "Sign-in records"
