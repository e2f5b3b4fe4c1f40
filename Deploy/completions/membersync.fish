function __membersync_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __membersync_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __membersync_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __membersync_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __membersync_parse_tokens -S
    set -l unparsed_tokens (__membersync_tokens -pc)
    switch $unparsed_tokens[1]
    case 'membersync'
        __membersync_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'init'
            __membersync_parse_subcommand 1 'id=' 'organisation=' 'hub' 'listen=' 'hub-endpoint=+' 'peer=+' 'heartbeat-ms=' 'hub-signing-key=+' 'hub-key=+' 'peer-key=+' 'insecure' 'http-listen=' 'force' 'json' 'version' 'h/help'
        case 'set'
            __membersync_parse_subcommand -r 2 'data-dir=' 'json' 'version' 'h/help'
        case 'get'
            __membersync_parse_subcommand 1 'data-dir=' 'json' 'version' 'h/help'
        case 'list'
            __membersync_parse_subcommand 1 'data-dir=' 'json' 'where=+' 'version' 'h/help'
        case 'delete'
            __membersync_parse_subcommand 1 'data-dir=' 'json' 'version' 'h/help'
        case 'conflicts'
            __membersync_parse_subcommand 0 'data-dir=' 'json' 'version' 'h/help'
        case 'status'
            __membersync_parse_subcommand 0 'data-dir=' 'json' 'timeout=' 'version' 'h/help'
        case 'refused'
            __membersync_parse_subcommand 0 'data-dir=' 'json' 'version' 'h/help'
        case 'schema'
            __membersync_parse_subcommand 1 'json' 'version' 'h/help'
        case 'show'
            __membersync_parse_subcommand 1 'data-dir=' 'json' 'version' 'h/help'
        case 'search'
            __membersync_parse_subcommand 1 'data-dir=' 'json' 'in=' 'version' 'h/help'
        case 'history'
            __membersync_parse_subcommand 1 'data-dir=' 'json' 'version' 'h/help'
        case 'resolve'
            __membersync_parse_subcommand 3 'data-dir=' 'json' 'force' 'version' 'h/help'
        case 'import'
            __membersync_parse_subcommand 1 'data-dir=' 'json' 'format=' 'batch-size=' 'check' 'version' 'h/help'
        case 'export'
            __membersync_parse_subcommand 1 'data-dir=' 'json' 'format=' 'o/output=' 'version' 'h/help'
        case 'catch-up'
            __membersync_parse_subcommand 0 'data-dir=' 'json' 'timeout=' 'version' 'h/help'
        case 'nodes'
            __membersync_parse_subcommand 0 'data-dir=' 'json' 'version' 'h/help'
        case 'doctor'
            __membersync_parse_subcommand 0 'data-dir=' 'json' 'config=' 'version' 'h/help'
        case 'hub'
            __membersync_parse_subcommand 0 'version' 'h/help'
            switch $unparsed_tokens[1]
            case 'nodes'
                __membersync_parse_subcommand 0 'data-dir=' 'json' 'version' 'h/help'
            case 'admit'
                __membersync_parse_subcommand 1 'data-dir=' 'json' 'organisation=' 'curve-key=' 'signing-key=' 'role=' 'endpoint=+' 'accept-revoked-edits' 'version' 'h/help'
            case 'revoke'
                __membersync_parse_subcommand 1 'data-dir=' 'json' 'version' 'h/help'
            case 'compact'
                __membersync_parse_subcommand 0 'data-dir=' 'json' 'version' 'h/help'
            case 'snapshot'
                __membersync_parse_subcommand 1 'data-dir=' 'json' 'force' 'version' 'h/help'
            case 'restore'
                __membersync_parse_subcommand 1 'data-dir=' 'json' 'version' 'h/help'
            case 'stats'
                __membersync_parse_subcommand 0 'data-dir=' 'json' 'version' 'h/help'
            end
        case 'inspect'
            __membersync_parse_subcommand 1 'data-dir=' 'json' 'version' 'h/help'
        case 'web-login'
            __membersync_parse_subcommand 0 'data-dir=' 'json' 'version' 'h/help'
        case 'help'
            __membersync_parse_subcommand -r 1 'version'
        end
    end
end

function __membersync_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __membersync_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __membersync_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __membersync_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__membersync_tokens -p)
    if test -z "$(__membersync_tokens -t)"
        set -l index (count (__membersync_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'membersync' -f
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'init' -d 'Create a node\'s data directory and its membersync.toml.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'set' -d 'Create or edit a record: FIELD=VALUE, FIELD+=ELEMENT (add to a set), FIELD-=ELEMENT (remove).'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'get' -d 'Show one record.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'list' -d 'List the records of a collection.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'delete' -d 'Delete a record (an edit made concurrently elsewhere keeps it).'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'conflicts' -d 'List every conflicted field with all its values and their origins.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'status' -d 'Show the node\'s state. Exit status: 0 healthy, 1 degraded, 2 node unreachable.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'refused' -d 'List this node\'s edits that were refused, with the reason (newest first).'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'schema' -d 'List the collections, their fields, kinds and limits (from the schema writes are checked against).'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'show' -d 'Show a record as a card, with references resolved to names and, for an organisation, its contacts, offices, networks and projects.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'search' -d 'Find records by text in their id, name or title, description or topics.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'history' -d 'Show who changed a record, what and when, from the ops this node\'s log still holds.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'resolve' -d 'Settle a conflict by writing the field again; its new value replaces every sibling.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'import' -d 'Import records from a JSON Lines file (the export format) or from the CSV that export --format csv writes.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'export' -d 'Export records as JSON Lines (the import format) or as CSV (one collection).'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'catch-up' -d 'Wait until this node holds everything its hub (or its peers) holds and the hub has acknowledged its edits.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'nodes' -d 'List the nodes this node knows and whether each is online as this node sees it.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'doctor' -d 'Check the node\'s config, file modes, store, hubs and peers, roster entry and lag; a fix for each failure.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'hub' -d 'Hub operator commands: the roster, compaction, snapshots and statistics.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'inspect' -d 'Show a record\'s raw CRDT state: every field\'s siblings with their dots and causal context (JSON).'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'web-login' -d 'Print a one-time link that logs you in to the node\'s web page.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync init" id' -l 'id' -d 'This node\'s id (a lowercase slug, unique in the federation).' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync init" organisation' -l 'organisation' -d 'The organisation this office belongs to (organisations/<id>).' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync init" hub' -l 'hub' -d 'Make this node the hub.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync init" listen' -l 'listen' -d 'ROUTER endpoint to bind, tcp://HOST:PORT (the PUB socket takes PORT+1).' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync init"' -l 'hub-endpoint' -d 'A hub\'s endpoint; repeat in order of preference.' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync init"' -l 'peer' -d 'A fallback peer: its node id (endpoint and key then come from the roster) or its endpoint; repeat for several.' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync init" heartbeat-ms' -l 'heartbeat-ms' -d 'Heartbeat interval in milliseconds.' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync init"' -l 'hub-signing-key' -d 'A hub\'s signing key as HUB_ID:HEX (printed by the hub\'s init); repeat for several hubs.' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync init"' -l 'hub-key' -d 'The CURVE public key (curve.pub) of each --hub-endpoint, repeated in the same order.' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync init"' -l 'peer-key' -d 'The CURVE public key (curve.pub) of each --peer given as an endpoint, repeated in the same order.' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync init" insecure' -l 'insecure' -d 'Trusted test network only: apply remote ops without verifying signatures or write rules.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync init" http-listen' -l 'http-listen' -d 'HOST:PORT of the web page (default 127.0.0.1:7480), or off.' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync init" force' -l 'force' -d 'Overwrite an existing membersync.toml.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync init" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync init" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync init" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync set" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync set" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync set" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync set" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync get" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync get" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync get" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync get" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync list" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync list" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync list" -eq 1' -fka 'contacts networks nodes offices organisations projects'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync list"' -l 'where' -d 'FIELD=VALUE: only records with this value (for a set field: containing it). Repeat to combine.' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync list" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync list" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync delete" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync delete" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync delete" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync delete" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync conflicts" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync conflicts" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync conflicts" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync conflicts" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync status" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync status" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync status" timeout' -l 'timeout' -d 'Seconds to wait for the node\'s answer before reporting it unreachable.' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync status" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync status" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync refused" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync refused" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync refused" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync refused" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync schema" -eq 1' -fka 'contacts networks nodes offices organisations projects'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync schema" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync schema" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync schema" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync show" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync show" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync show" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync show" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync search" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync search" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync search" in' -l 'in' -d 'Only search this collection.' -rfka 'contacts networks nodes offices organisations projects'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync search" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync search" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync history" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync history" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync history" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync history" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync resolve" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync resolve" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync resolve" force' -l 'force' -d 'Write the field even if it is not in conflict.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync resolve" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync resolve" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync import" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync import" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync import" -eq 1' -F
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync import" format' -l 'format' -d 'json or csv (default: csv for a file name ending in .csv, else json).' -rfka 'json csv'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync import" batch-size' -l 'batch-size' -d 'Records per request to the node (1-5000).' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync import" check' -l 'check' -d 'Only check the file against the schema and this node\'s write rules; write nothing.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync import" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync import" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync export" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync export" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync export" format' -l 'format' -d 'json or csv.' -rfka 'json csv'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync export" o output' -s 'o' -l 'output' -d 'Write to this file instead of standard output.' -rF
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync export" -eq 1' -fka 'contacts networks nodes offices organisations projects'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync export" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync export" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync catch-up" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync catch-up" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync catch-up" timeout' -l 'timeout' -d 'Give up after this many seconds.' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync catch-up" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync catch-up" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync nodes" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync nodes" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync nodes" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync nodes" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync doctor" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync doctor" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync doctor" config' -l 'config' -d 'The config file (default: DATA_DIR/membersync.toml).' -rF
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync doctor" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync doctor" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync hub" -eq 1' -fa 'nodes' -d 'List every node in the roster or that has said hello: connected or not, last seen, ops behind, versions.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync hub" -eq 1' -fa 'admit' -d 'Add a node to the roster (nodes/NODE-ID), or update its entry and clear a revocation.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync hub" -eq 1' -fa 'revoke' -d 'Mark a node revoked in the roster. Hub only.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync hub" -eq 1' -fa 'compact' -d 'Drop from the op log every op that every live node holds, now. Hub only.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync hub" -eq 1' -fa 'snapshot' -d 'Write a consistent copy of the node\'s database to FILE while it runs.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync hub" -eq 1' -fa 'restore' -d 'Merge a snapshot file into the running node (a CRDT join: nothing newer is lost).'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync hub" -eq 1' -fa 'stats' -d 'Records per collection, op log size and floor, conflicts, ops applied and rejected, connected nodes, store size.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub nodes" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub nodes" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub nodes" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub nodes" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub admit" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub admit" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub admit" organisation' -l 'organisation' -d 'The organisation the node belongs to (organisations/<id>, which must exist).' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub admit" curve-key' -l 'curve-key' -d 'The node\'s CURVE public key (Z85, 40 characters).' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub admit" signing-key' -l 'signing-key' -d 'The node\'s op-signing public key (64 hex digits, as in signing.pub).' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub admit" role' -l 'role' -d 'member or hub.' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub admit"' -l 'endpoint' -d 'An endpoint of the node; repeat for several.' -rfka ''
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub admit" accept-revoked-edits' -l 'accept-revoked-edits' -d 'When re-admitting a revoked node, also accept the edits it made while revoked.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub admit" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub admit" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub revoke" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub revoke" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub revoke" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub revoke" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub compact" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub compact" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub compact" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub compact" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub snapshot" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub snapshot" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync hub snapshot" -eq 1' -F
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub snapshot" force' -l 'force' -d 'Replace FILE if it exists.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub snapshot" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub snapshot" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub restore" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub restore" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_positional "membersync hub restore" -eq 1' -F
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub restore" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub restore" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub stats" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub stats" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub stats" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync hub stats" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync inspect" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync inspect" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync inspect" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync inspect" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync web-login" data-dir' -l 'data-dir' -d 'The node\'s data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).' -rfa '(__membersync_complete_directories)'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync web-login" json' -l 'json' -d 'Machine-readable JSON output.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync web-login" version' -l 'version' -d 'Show the version.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync web-login" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'membersync' -n '__membersync_should_offer_completions_for_flags_or_options "membersync help" version' -l 'version' -d 'Show the version.'
