# The configuration's own deploy checks register themselves on import (sizhi.config is imported
# whenever the settings are).
from sizhi.config import checks as checks
