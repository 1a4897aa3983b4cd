<?php

// Without Composer (Debian's PHPUnit): the package's classes by hand.
require __DIR__ . '/../src/SessionHandler.php';
