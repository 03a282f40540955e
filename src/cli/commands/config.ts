/** berth config default: the complete default config, valid input for berthd --config. */
import type { Command } from 'commander';
import { defaultConfig, renderConfigToml } from '../../config/index.js';

export function registerConfig(program: Command): void {
  const config = program
    .command('config')
    .description('Berth configuration helpers')
    .addHelpText('after', '\nExample:\n  berth config default\n');
  config
    .command('default')
    .description('Print the complete default config.toml (every key with its default)')
    .addHelpText('after', '\nExample:\n  berth config default > /etc/berth/config.toml\n')
    .action(() => {
      process.stdout.write(renderConfigToml(defaultConfig()));
    });
}
