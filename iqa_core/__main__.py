from iqa_core.cli import main

raise SystemExit(main())
