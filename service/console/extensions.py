"""The console's Flask extensions, created unbound; `register_console` binds them."""
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Its storage comes from RATELIMIT_STORAGE_URI, which register_console defaults to memory://.
limiter = Limiter(key_func=get_remote_address)
