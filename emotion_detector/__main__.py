"""``python -m emotion_detector --help``"""

import sys

from emotion_detector.cli import main

sys.exit(main())
