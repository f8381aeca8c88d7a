import logging

logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
