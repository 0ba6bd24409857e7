"""python -m daktela_simulator: serve a simulated Daktela on loopback."""
import argparse
import logging

from daktela_simulator.core import Simulator
from daktela_simulator.server import SimulatorServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--token", default="simulator-token", help="accepted access token")
    parser.add_argument("--autoplay", type=float, default=None, metavar="SECONDS",
                        help="play each new record's call out: in progress after SECONDS, done after twice that")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="delay every API answer, as a remote Daktela would")
    parser.add_argument("--action-as-int", action="store_true", help="answer action as 5, not '5'")
    parser.add_argument("--webhook-url", action="append", default=[], help="push record changes here")
    parser.add_argument("--webhook-secret", default=None, help="sent in X-Webhook-Secret")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s simulator %(levelname)s: %(message)s")
    simulator = Simulator(access_tokens=[args.token], action_as_int=args.action_as_int,
                          autoplay_seconds=args.autoplay, latency_seconds=args.latency_ms / 1000)
    headers = {"X-Webhook-Secret": args.webhook_secret} if args.webhook_secret else {}
    for url in args.webhook_url:
        simulator.add_hook(url, headers)
    server = SimulatorServer(simulator, args.host, args.port)
    logging.info("Daktela simulator on %s (token %s)", server.url, args.token)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.close()


if __name__ == "__main__":
    main()
