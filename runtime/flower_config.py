"""Flower's configuration file: `celery -A workers.app flower --conf=runtime/flower_config.py`.

Flower executes this file when it starts and takes the option names it defines. Reading the password
here, inside Flower, keeps it off every command line and out of every environment (see runtime.flower_auth).
"""

from runtime import flower_auth, settings

flower_auth.require_cross_origin_refusal()
basic_auth = [flower_auth.credential(settings.load()).user_password]
